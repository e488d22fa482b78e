use pages::parse_ranges;

#[test]
fn ranges_include_both_ends() {
    assert_eq!(parse_ranges("2-4"), Ok(vec![2, 3, 4]));
    assert_eq!(parse_ranges("1,5-6,9"), Ok(vec![1, 5, 6, 9]));
}

#[test]
fn a_range_of_one_page() {
    assert_eq!(parse_ranges("7-7"), Ok(vec![7]));
}
