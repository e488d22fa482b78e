//! Whether the bytes of a `.ollama-turbo.yml` are UTF-8 text, and where and how they are
//! not: the file is read as UTF-8 only, so a user who saved it otherwise is told which
//! encoding it seems to be in and where the first byte that does not fit is.

use super::error::{Position, Problem, ProblemKind};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16_LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16_BE_BOM: &[u8] = b"\xFE\xFF";

/// The text of `bytes`, without a UTF-8 byte-order mark; or the problem, placed at the
/// first byte that is not UTF-8.
pub(super) fn utf8_text(bytes: &[u8]) -> Result<&str, Problem> {
    if bytes.starts_with(UTF16_LE_BOM) || bytes.starts_with(UTF16_BE_BOM) {
        return Err(Problem::whole_file(ProblemKind::NotUtf8 { utf16: true }));
    }
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        // The prefix is valid UTF-8 by definition; count lines and characters in it.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Problem {
            file: super::error::ConfigFile::Repository,
            position: Some(Position {
                line: line as u64,
                column: column as u64,
            }),
            field: String::new(),
            kind: ProblemKind::NotUtf8 { utf16: false },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_passes_and_its_byte_order_mark_is_skipped() {
        assert_eq!(utf8_text(b"version: 1\n"), Ok("version: 1\n"));
        assert_eq!(utf8_text(b"\xEF\xBB\xBFversion: 1\n"), Ok("version: 1\n"));
        assert_eq!(utf8_text("# café\n".as_bytes()), Ok("# café\n"));
    }

    #[test]
    fn utf16_is_named_from_its_byte_order_mark() {
        let utf16_le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("version: 1".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let problem = utf8_text(&utf16_le).expect_err("UTF-16");
        assert_eq!(problem.kind, ProblemKind::NotUtf8 { utf16: true });
        assert_eq!(problem.position, None);
        assert!(utf8_text(b"\xFE\xFF\x00v").is_err());
    }

    #[test]
    fn latin1_is_placed_at_its_first_odd_byte() {
        // "# caf\xe9" is "café" in Latin-1.
        let problem = utf8_text(b"version: 1\n# caf\xe9\n").expect_err("Latin-1");
        assert_eq!(problem.kind, ProblemKind::NotUtf8 { utf16: false });
        assert_eq!(problem.position, Some(Position { line: 2, column: 6 }));
    }
}
