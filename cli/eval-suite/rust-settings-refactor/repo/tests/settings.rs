use settings::{parse_host, parse_port, parse_workers};

#[test]
fn good_lines() {
    assert_eq!(parse_port("port = 8080"), Ok(8080));
    assert_eq!(parse_host(" host=example.org "), Ok("example.org".to_owned()));
    assert_eq!(parse_workers("workers = 4"), Ok(4));
}
