//! `ancora chainweb sign CMD_FILE --key-file KEY`: signs a prepared `cmd` string.
//!
//! The file's exact bytes are the `cmd` string (a trailing newline, if any, is part of what
//! is hashed and sent: write the file without one unless the node should see it). The
//! output is the signed Command as one line of JSON, ready for `/send`'s `cmds` array.

use std::path::Path;

use crate::{Error, SecretKey, SignedCommand};

/// Signs the command in `cmd_path` with the key in `key_path` (64 hex characters) and
/// returns the signed Command as one line of JSON. Errors are one line each: a file that
/// cannot be read, a command that is not UTF-8 JSON, a key that is not 64 hex characters.
pub fn sign_file_command(
    cmd_path: impl AsRef<Path>,
    key_path: impl AsRef<Path>,
) -> Result<String, Error> {
    let cmd_path = cmd_path.as_ref();
    let bytes = std::fs::read(cmd_path).map_err(|source| Error::Io {
        path: cmd_path.to_owned(),
        source,
    })?;
    let cmd = String::from_utf8(bytes).map_err(|_| {
        Error::Command(format!(
            "{}: the command is not UTF-8 text",
            cmd_path.display()
        ))
    })?;
    if let Err(e) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&cmd) {
        return Err(Error::Command(format!(
            "{}: the command is not a JSON object: {e}",
            cmd_path.display()
        )));
    }
    let key = SecretKey::from_file(key_path)?;
    Ok(SignedCommand::sign(cmd, &[&key]).to_json())
}
