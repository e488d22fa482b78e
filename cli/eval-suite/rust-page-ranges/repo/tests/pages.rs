use pages::{parse_ranges, RangeError};

#[test]
fn single_pages() {
    assert_eq!(parse_ranges("1, 3,9"), Ok(vec![1, 3, 9]));
}

#[test]
fn bad_input() {
    assert_eq!(
        parse_ranges("1,x"),
        Err(RangeError::NotANumber("x".to_owned()))
    );
    assert_eq!(
        parse_ranges("5-2"),
        Err(RangeError::Backwards { first: 5, last: 2 })
    );
}
