//! Page selections as a print dialog takes them: `1,3,5-7`.

use std::fmt;

/// Why a selection could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// A part that is neither a page number nor `first-last`.
    NotANumber(String),
    /// A range whose first page comes after its last one.
    Backwards { first: u32, last: u32 },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeError::NotANumber(part) => write!(f, "`{part}` is not a page number"),
            RangeError::Backwards { first, last } => {
                write!(f, "the range {first}-{last} runs backwards")
            }
        }
    }
}

/// The pages a selection such as `1,3,5-7` names, in the order given.
pub fn parse_ranges(text: &str) -> Result<Vec<u32>, RangeError> {
    let mut pages = Vec::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                let first = number(first)?;
                let last = number(last)?;
                if first > last {
                    return Err(RangeError::Backwards { first, last });
                }
                pages.extend(first..last);
            }
            None => pages.push(number(part)?),
        }
    }
    Ok(pages)
}

fn number(text: &str) -> Result<u32, RangeError> {
    text.trim()
        .parse()
        .map_err(|_| RangeError::NotANumber(text.trim().to_owned()))
}
