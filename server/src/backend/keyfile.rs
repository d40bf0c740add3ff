//! Secret keys the server keeps: from an environment variable, else a hex file in the data
//! directory (0600, in a 0700 directory), else a new random one written there.

use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::ServerError;

/// A secret key and where it came from, for the message when a file is bad.
pub struct Secret {
    pub bytes: Zeroizing<Vec<u8>>,
}

/// Loads `data_dir/rel` or `from_env` (named `env_name` in messages), creating the file with
/// `generate()` when neither exists. `check` says whether decoded bytes are acceptable.
pub fn load_or_create(
    data_dir: &Path,
    rel: &str,
    from_env: Option<&str>,
    env_name: &str,
    what: &str,
    check: impl Fn(&[u8]) -> bool,
    generate: impl FnOnce() -> Zeroizing<Vec<u8>>,
) -> Result<Secret, ServerError> {
    if let Some(hexkey) = from_env {
        let bytes = decode(hexkey, &check).ok_or_else(|| ServerError::Config(format!("{env_name} is not a valid {what}")))?;
        return Ok(Secret { bytes });
    }
    let path = data_dir.join(rel);
    let fail = |e: std::io::Error| ServerError::DataDir { path: path.clone(), reason: e.to_string() };
    if path.exists() {
        restrict(&path, 0o600).map_err(fail)?;
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(fail)?);
        let bytes = decode(&text, &check)
            .ok_or_else(|| ServerError::DataDir { path: path.clone(), reason: format!("is not a valid {what} in hex") })?;
        return Ok(Secret { bytes });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
        restrict(dir, 0o700).map_err(fail)?;
    }
    let bytes = generate();
    let mut f = create_private(&path).map_err(fail)?;
    f.write_all(Zeroizing::new(hex::encode(&*bytes)).as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    tracing::info!(path = %path.display(), "generated a new {what}");
    Ok(Secret { bytes })
}

fn decode(text: &str, check: &impl Fn(&[u8]) -> bool) -> Option<Zeroizing<Vec<u8>>> {
    hex::decode(text.trim()).ok().map(Zeroizing::new).filter(|k| check(k))
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}
#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}
