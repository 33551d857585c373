//! `python3 -` in a simulated job: the simulation has no Python, so it runs natively the one
//! program the project gives it, realitycheck's OIDC program (the `oidc` job's step, recognised
//! by its first line, [`OIDC_PROGRAM_FIRST_LINE`]), and prints what the Python prints.
//!
//! For `CIRCLE_OIDC_TOKEN` and `CIRCLE_OIDC_TOKEN_V2` in turn: `missing` when the variable is
//! empty, `malformed` when it is not three base64url parts of JSON, else the `header` and
//! `claims` as `json.dumps(obj, sort_keys=True)` prints them; then, for RS256 tokens, it reads the
//! discovery document of the token's `iss` and its `jwks_uri` from the job's issuer
//! ([`crate::oidc::Issuer`]; another host fails as urllib fails on an unknown host) and verifies
//! the signature with the key of the token's `kid` (with ring): `verified`, `bad-signature` or
//! `unverified`. It exits 1 unless both tokens verify.
//!
//! Where it cannot follow Python exactly, for tokens the simulation never mints: the text of a
//! JSON error other than a missing value is serde_json's, integers beyond 64 bits and `NaN` are
//! not read as Python reads them, a header or claims that are not a JSON object end the program
//! with Python's `AttributeError` (as the Python does, after printing them), and RSA keys under
//! 2048 bits are `bad-signature` (ring refuses them).

use std::collections::BTreeMap;

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use realitycheck_project::outputs::{OIDC_PROGRAM_FIRST_LINE, OIDC_TOKEN_VARIABLES};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::Value;

use crate::oidc::{DISCOVERY_PATH, Fetched, Issuer};

/// What urllib says of a host it cannot resolve.
const UNKNOWN_HOST: &str = "<urlopen error [Errno -2] Name or service not known>";

/// base64url as Python's `base64.urlsafe_b64decode` reads it: padding optional, trailing bits
/// ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Whether `stdin` is realitycheck's OIDC program.
pub fn is_the_program(stdin: Option<&str>) -> bool {
    stdin.and_then(|program| program.lines().next()).is_some_and(|first| first.trim() == OIDC_PROGRAM_FIRST_LINE)
}

/// Runs the OIDC program with environment `env`, reaching `issuer` (if the job's network has
/// one); returns its exit code and standard output, its standard error going to `stderr`.
pub fn run(env: &BTreeMap<String, String>, issuer: Option<&Issuer>, stderr: &mut String) -> (i32, String) {
    let mut out = String::new();
    let mut all_verified = true;
    for name in OIDC_TOKEN_VARIABLES {
        match verify(name, env.get(name).map_or("", String::as_str), issuer, &mut out) {
            Ok(verified) => all_verified &= verified,
            Err(crash) => {
                stderr.push_str(&format!(
                    "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in <module>\n{crash}\n"
                ));
                return (1, out);
            }
        }
    }
    (if all_verified { 0 } else { 1 }, out)
}

/// Prints what the program prints of token `token` of variable `name`; whether it verified, or
/// the exception that ends the program.
fn verify(name: &str, token: &str, issuer: Option<&Issuer>, out: &mut String) -> Result<bool, String> {
    let mut print = |word: &str, rest: &str| out.push_str(&format!("oidc {name} {word}{rest}\n"));
    if token.is_empty() {
        print("missing", &format!(": the job has no {name}"));
        return Ok(false);
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        print("malformed", &format!(": {} parts, a JWS has 3", parts.len()));
        return Ok(false);
    }
    let decoded =
        (|| Ok::<_, String>((json_loads(&decode(parts[0])?)?, json_loads(&decode(parts[1])?)?, decode(parts[2])?)))();
    let (header, claims, signature) = match decoded {
        Ok(decoded) => decoded,
        Err(error) => {
            print("malformed", &format!(": {error}"));
            return Ok(false);
        }
    };
    print("header", &format!(" {}", dumps(&header)));
    print("claims", &format!(" {}", dumps(&claims)));
    let header_get = |key: &str| get(&header, key);
    let alg = header_get("alg")?;
    if alg != Some(&Value::String("RS256".to_owned())) {
        print("unverified", &format!(": algorithm {}, this job verifies RS256", python_str(alg)));
        return Ok(false);
    }
    let iss = get(&claims, "iss")?.map_or(String::new(), |iss| python_str(Some(iss)));
    let discovery = format!("{}{DISCOVERY_PATH}", iss.trim_end_matches('/'));
    let fetched = fetch(issuer, &discovery).and_then(|document| {
        let jwks_uri = document.get("jwks_uri").cloned().ok_or("'jwks_uri'")?;
        let keys = fetch(issuer, &python_str(Some(&jwks_uri)))?.get("keys").cloned().ok_or("'keys'")?;
        Ok((python_str(Some(&jwks_uri)), keys))
    });
    let (jwks_uri, keys) = match fetched {
        Ok(fetched) => fetched,
        Err(error) => {
            print("unverified", &format!(": reading {discovery} and its key set failed: {error}"));
            return Ok(false);
        }
    };
    let kid = header_get("kid")?;
    let key = keys.as_array().into_iter().flatten().find(|key| key.get("kid") == kid);
    let Some(key) = key else {
        print("unverified", &format!(": the key set {jwks_uri} has no key {}", python_str(kid)));
        return Ok(false);
    };
    let key_kid = python_str(key.get("kid"));
    let component = |member: &str| -> Result<Vec<u8>, String> {
        let text = key.get(member).and_then(Value::as_str).ok_or_else(|| format!("KeyError: '{member}'"))?;
        let bytes = decode(text).map_err(|error| format!("binascii.Error: {error}"))?;
        let start = bytes.iter().position(|byte| *byte != 0).unwrap_or(bytes.len());
        Ok(bytes[start..].to_vec())
    };
    let (n, e) = (component("n")?, component("e")?);
    let signed = format!("{}.{}", parts[0], parts[1]);
    let verified =
        RsaPublicKeyComponents { n: &n, e: &e }.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature);
    if verified.is_err() {
        print("bad-signature", &format!(": key {key_kid} of {jwks_uri} does not verify it"));
        return Ok(false);
    }
    print("verified", &format!(": key {key_kid} of {jwks_uri}"));
    Ok(true)
}

/// `obj.get(key)` on a decoded JSON value; anything but an object has no `get` in Python.
fn get<'a>(value: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match value {
        Value::Object(object) => Ok(object.get(key)),
        other => Err(format!("AttributeError: '{}' object has no attribute 'get'", python_type(other))),
    }
}

fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `fetch(url)`: the JSON document at `url` on the job's issuer, or urllib's error.
fn fetch(issuer: Option<&Issuer>, url: &str) -> Result<Value, String> {
    if !url.contains("://") {
        return Err(format!("unknown url type: '{url}'"));
    }
    match issuer.map_or(Fetched::OtherHost, |issuer| issuer.fetch(url)) {
        Fetched::Document(body) => {
            serde_json::from_str(body).map_err(|error| format!("the issuer's document at {url} is not JSON: {error}"))
        }
        Fetched::NotFound => Err("HTTP Error 404: Not Found".to_owned()),
        Fetched::OtherHost => Err(UNKNOWN_HOST.to_owned()),
    }
}

/// `decode(part)`: base64url with its padding restored, as `base64.urlsafe_b64decode` does
/// (characters outside the alphabet are discarded); the error as Python says it.
fn decode(part: &str) -> Result<Vec<u8>, String> {
    let data: String =
        part.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/')).collect();
    let data = data.replace('+', "-").replace('/', "_");
    let padding = part.matches('=').count() + (4 - part.len() % 4) % 4;
    if data.len() % 4 == 1 {
        return Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
            data.len()
        ));
    }
    if !data.len().is_multiple_of(4) && padding < 4 - data.len() % 4 {
        return Err("Incorrect padding".to_owned());
    }
    LENIENT.decode(data).map_err(|error| format!("Invalid base64-encoded string: {error}"))
}

/// `json.loads(bytes)`: UTF-8, then JSON; the error as Python says it where the simulation can.
fn json_loads(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let position = error.valid_up_to();
        let byte = bytes[position];
        let reason = match error.error_len() {
            None => "unexpected end of data",
            Some(_) if (0x80..0xc2).contains(&byte) || byte > 0xf4 => "invalid start byte",
            Some(_) => "invalid continuation byte",
        };
        format!("'utf-8' codec can't decode byte 0x{byte:02x} in position {position}: {reason}")
    })?;
    serde_json::from_str(text).map_err(|error| {
        let rest = text.trim_start_matches([' ', '\t', '\n', '\r']);
        let start = text.len() - rest.len();
        let starts_a_value =
            rest.starts_with(['{', '[', '"', '-', 't', 'f', 'n']) || rest.starts_with(|c: char| c.is_ascii_digit());
        if starts_a_value {
            error.to_string()
        } else {
            format!("Expecting value: line 1 column {} (char {start})", start + 1)
        }
    })
}

/// `json.dumps(value, sort_keys=True)`: `", "` and `": "` separators, keys sorted, non-ASCII
/// escaped as `\uXXXX`.
pub fn dumps(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(true) => "true".to_owned(),
        Value::Bool(false) => "false".to_owned(),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => python_float(float),
            _ => number.to_string(),
        },
        Value::String(text) => json_string(text),
        Value::Array(items) => format!("[{}]", items.iter().map(dumps).collect::<Vec<_>>().join(", ")),
        Value::Object(object) => {
            let mut members: Vec<(&String, &Value)> = object.iter().collect();
            members.sort_by(|left, right| left.0.cmp(right.0));
            let members: Vec<String> =
                members.into_iter().map(|(key, value)| format!("{}: {}", json_string(key), dumps(value))).collect();
            format!("{{{}}}", members.join(", "))
        }
    }
}

/// A JSON string as Python's `json` writes it with `ensure_ascii`.
fn json_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0_u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// `repr(float)`: the shortest digits that round-trip, positional from 1e-4 to below 1e16,
/// else with an exponent of at least two digits (`1e+16`, `1.5e-05`).
fn python_float(float: f64) -> String {
    if float.is_nan() {
        return "NaN".to_owned();
    }
    if float.is_infinite() {
        return if float > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let scientific = format!("{float:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = usize::try_from(exponent + 1).unwrap_or(0);
        if exponent >= 0 {
            let whole = format!("{digits:0<point$}");
            let (integer, fraction) = whole.split_at(point);
            format!("{sign}{integer}.{}", if fraction.is_empty() { "0" } else { fraction })
        } else {
            let zeros = "0".repeat(usize::try_from(-exponent - 1).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{fraction}e{exponent_sign}{:02}", exponent.abs())
    }
}

/// `str(value)` in an f-string: a string as itself, `None`, `True`, `False`, numbers as Python
/// writes them, lists and dicts as their `repr`.
fn python_str(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_owned(),
        Some(Value::Bool(true)) => "True".to_owned(),
        Some(Value::Bool(false)) => "False".to_owned(),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(float) if number.is_f64() => python_float(float),
            _ => number.to_string(),
        },
        Some(Value::String(text)) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        Some(Value::Array(items)) => {
            format!("[{}]", items.iter().map(|item| python_repr(Some(item))).collect::<Vec<_>>().join(", "))
        }
        Some(Value::Object(object)) => {
            let members: Vec<String> =
                object.iter().map(|(key, value)| format!("'{key}': {}", python_repr(Some(value)))).collect();
            format!("{{{}}}", members.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dumps_writes_as_python_json_does() {
        let value = json!({"b": [1, 2.5, null, true], "a": "é\"\n😀", "c": {"z": 1e16, "y": 1.5e-5, "x": 0.0001}});
        assert_eq!(
            dumps(&value),
            r#"{"a": "\u00e9\"\n\ud83d\ude00", "b": [1, 2.5, null, true], "c": {"x": 0.0001, "y": 1.5e-05, "z": 1e+16}}"#
        );
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(-123.456), "-123.456");
        assert_eq!(python_float(1.5e300), "1.5e+300");
        assert_eq!(python_float(1234567890123456.0), "1234567890123456.0");
    }

    #[test]
    fn decode_and_loads_fail_as_python_says() {
        assert_eq!(decode("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert_eq!(
            decode("abcde").unwrap_err(),
            "Invalid base64-encoded string: number of data characters (5) cannot be 1 more than a multiple of 4"
        );
        assert_eq!(decode("ab!").unwrap_err(), "Incorrect padding");
        assert_eq!(json_loads(b"").unwrap_err(), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(json_loads(b"xyz").unwrap_err(), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(
            json_loads(b"\xff").unwrap_err(),
            "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
        );
    }

    #[test]
    fn missing_and_malformed_tokens_and_other_programs() {
        let env = BTreeMap::from([("CIRCLE_OIDC_TOKEN".to_owned(), "a.b".to_owned())]);
        let mut stderr = String::new();
        let (code, out) = run(&env, None, &mut stderr);
        assert_eq!(code, 1);
        assert_eq!(
            out,
            "oidc CIRCLE_OIDC_TOKEN malformed: 2 parts, a JWS has 3\n\
             oidc CIRCLE_OIDC_TOKEN_V2 missing: the job has no CIRCLE_OIDC_TOKEN_V2\n"
        );
        assert!(stderr.is_empty());
        let list = BTreeMap::from([("CIRCLE_OIDC_TOKEN".to_owned(), "W10.W10.AA".to_owned())]);
        let (code, out) = run(&list, None, &mut stderr);
        assert_eq!((code, out.lines().count()), (1, 2), "{out}");
        assert!(stderr.ends_with("AttributeError: 'list' object has no attribute 'get'\n"), "{stderr}");
        assert!(is_the_program(Some(&format!("{OIDC_PROGRAM_FIRST_LINE}\nimport os\n"))));
        assert!(!is_the_program(Some("print('hello')\n")));
        assert!(!is_the_program(None));
    }
}
