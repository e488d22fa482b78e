//! The fields of a `multipart/form-data` body (RFC 7578), for the one form that uploads a
//! file (the settings page's private key): each part's `name` and bytes, nothing else
//! (no nested parts, no encodings). Whatever does not follow the format is an error that
//! says what, never quoting the body.

/// The most parts read: the key form has three.
const MAX_PARTS: usize = 16;

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (1..=70).contains(&value.len()).then(|| value.to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The `name` of a part's `Content-Disposition: form-data; name="..."` header.
fn part_name(headers: &str) -> Option<String> {
    headers.split("\r\n").find_map(|line| {
        let (header, value) = line.split_once(':')?;
        if !header.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        value.split(';').find_map(|param| {
            let (name, value) = param.split_once('=')?;
            (name.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
        })
    })
}

/// Every part's name and content, in order.
pub fn fields(boundary: &str, body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let delimiter = format!("--{boundary}");
    let between = format!("\r\n--{boundary}");
    let start = find(body, delimiter.as_bytes())
        .ok_or_else(|| "the form has no part (its boundary is missing)".to_owned())?;
    let mut rest = &body[start + delimiter.len()..];
    let mut fields = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        if fields.len() == MAX_PARTS {
            return Err(format!("the form has more than {MAX_PARTS} parts"));
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or_else(|| "a part of the form does not start on its own line".to_owned())?;
        let headers_end = find(rest, b"\r\n\r\n")
            .ok_or_else(|| "a part of the form has no end to its headers".to_owned())?;
        let headers = String::from_utf8_lossy(&rest[..headers_end]);
        let name =
            part_name(&headers).ok_or_else(|| "a part of the form has no name".to_owned())?;
        rest = &rest[headers_end + 4..];
        let end = find(rest, between.as_bytes())
            .ok_or_else(|| "the form ends before its last part does".to_owned())?;
        fields.push((name, rest[..end].to_vec()));
        rest = &rest[end + between.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_s_form_reads_back() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"app.pem\"\r\nContent-Type: application/x-x509-ca-cert\r\n\r\n-----BEGIN\r\nline\r\n\r\n--XyZ--\r\n";
        let boundary = boundary("multipart/form-data; boundary=\"XyZ\"").unwrap();
        let fields = fields(&boundary, body).unwrap();
        assert_eq!(
            fields,
            vec![
                ("csrf".to_owned(), b"abc".to_vec()),
                ("file".to_owned(), b"-----BEGIN\r\nline\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn what_is_not_the_format_is_an_error() {
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        for body in [
            &b"no boundary here"[..],
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever ends",
            b"--XyZ\r\nno headers end",
        ] {
            assert!(fields("XyZ", body).is_err(), "{body:?}");
        }
        let many =
            "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n".repeat(20) + "--b--";
        assert!(fields("b", many.as_bytes()).is_err());
    }
}
