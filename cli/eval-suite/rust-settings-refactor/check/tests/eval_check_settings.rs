use settings::{parse_host, parse_port, parse_workers, SettingError};

fn invalid(key: &str, value: &str) -> SettingError {
    SettingError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

#[test]
fn the_errors_are_unchanged() {
    assert_eq!(
        parse_port("port 8080"),
        Err(SettingError::NoEquals("port 8080".to_owned()))
    );
    assert_eq!(
        parse_host("hostname = a"),
        Err(SettingError::WrongKey {
            expected: "host".to_owned(),
            found: "hostname".to_owned()
        })
    );
    assert_eq!(
        parse_workers("workers = "),
        Err(SettingError::Empty("workers".to_owned()))
    );
    assert_eq!(parse_port("port = 0"), Err(invalid("port", "0")));
    assert_eq!(parse_port("port = 70000"), Err(invalid("port", "70000")));
    assert_eq!(parse_host("host = a b"), Err(invalid("host", "a b")));
    assert_eq!(parse_workers("workers = 65"), Err(invalid("workers", "65")));
}

#[test]
fn the_values_are_unchanged() {
    assert_eq!(parse_port("port=1"), Ok(1));
    assert_eq!(parse_host("host = a=b"), Ok("a=b".to_owned()));
    assert_eq!(parse_workers(" workers = 64 "), Ok(64));
}
