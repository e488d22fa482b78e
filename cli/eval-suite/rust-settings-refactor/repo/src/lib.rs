//! One setting per line, as `key = value`: the three a server needs to start.

/// Why a line is not the setting asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingError {
    /// The line has no `=`.
    NoEquals(String),
    /// The line sets another key.
    WrongKey { expected: String, found: String },
    /// The value is empty.
    Empty(String),
    /// The value is not what the setting takes.
    Invalid { key: String, value: String },
}

/// `port = 8080`: a TCP port, 1 to 65535.
pub fn parse_port(line: &str) -> Result<u16, SettingError> {
    let (key, value) = line
        .split_once('=')
        .ok_or_else(|| SettingError::NoEquals(line.to_owned()))?;
    let (key, value) = (key.trim(), value.trim());
    if key != "port" {
        return Err(SettingError::WrongKey {
            expected: "port".to_owned(),
            found: key.to_owned(),
        });
    }
    if value.is_empty() {
        return Err(SettingError::Empty("port".to_owned()));
    }
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(SettingError::Invalid {
            key: "port".to_owned(),
            value: value.to_owned(),
        }),
    }
}

/// `host = example.org`: a host name without spaces.
pub fn parse_host(line: &str) -> Result<String, SettingError> {
    let (key, value) = line
        .split_once('=')
        .ok_or_else(|| SettingError::NoEquals(line.to_owned()))?;
    let (key, value) = (key.trim(), value.trim());
    if key != "host" {
        return Err(SettingError::WrongKey {
            expected: "host".to_owned(),
            found: key.to_owned(),
        });
    }
    if value.is_empty() {
        return Err(SettingError::Empty("host".to_owned()));
    }
    if value.contains(char::is_whitespace) {
        return Err(SettingError::Invalid {
            key: "host".to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(value.to_owned())
}

/// `workers = 4`: how many worker threads, 1 to 64.
pub fn parse_workers(line: &str) -> Result<usize, SettingError> {
    let (key, value) = line
        .split_once('=')
        .ok_or_else(|| SettingError::NoEquals(line.to_owned()))?;
    let (key, value) = (key.trim(), value.trim());
    if key != "workers" {
        return Err(SettingError::WrongKey {
            expected: "workers".to_owned(),
            found: key.to_owned(),
        });
    }
    if value.is_empty() {
        return Err(SettingError::Empty("workers".to_owned()));
    }
    match value.parse::<usize>() {
        Ok(workers) if (1..=64).contains(&workers) => Ok(workers),
        _ => Err(SettingError::Invalid {
            key: "workers".to_owned(),
            value: value.to_owned(),
        }),
    }
}
