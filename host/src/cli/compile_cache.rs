//! `--compile-cache-dir` / `--no-compile-cache`, shared by `serve`, `worker`
//! and `plugin check|test`: where compiled components are kept between
//! runs, so a large component (a 12 MB componentize-js flow takes tens of
//! seconds to compile) is compiled once per machine, not once per start.
//!
//! Default: `$XDG_CACHE_HOME/dialplane/components`, else
//! `~/.cache/dialplane/components`; neither set → no disk cache.

use std::path::PathBuf;

use crate::config;
use crate::runtime::HostOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct CompileCacheArgs {
    /// Directory of compiled components, shared by serve, worker and plugin
    /// check/test [default: $XDG_CACHE_HOME/dialplane/components, else
    /// ~/.cache/dialplane/components]. Must be private to this user.
    #[arg(long, env = config::COMPILE_CACHE_DIR_ENV, value_name = "DIR")]
    pub compile_cache_dir: Option<PathBuf>,
    /// Compile components in memory only: read and write no cache files
    /// (wins over --compile-cache-dir and the variable).
    #[arg(long)]
    pub no_compile_cache: bool,
}

impl CompileCacheArgs {
    /// The cache directory, or `None` when disabled or no default exists.
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_compile_cache {
            return None;
        }
        self.compile_cache_dir.clone().or_else(default_dir)
    }

    /// [`HostOptions::default`] with this cache.
    pub fn host_options(&self) -> HostOptions {
        HostOptions {
            compiled_cache_dir: self.dir(),
            ..HostOptions::default()
        }
    }
}

/// `$XDG_CACHE_HOME` (when absolute, as the XDG spec requires) or
/// `$HOME/.cache`, joined with [`config::COMPILE_CACHE_SUBDIR_DEFAULT`].
fn default_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")))?;
    Some(base.join(config::COMPILE_CACHE_SUBDIR_DEFAULT))
}
