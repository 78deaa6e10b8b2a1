//! The `dialplane` binary: parses the command line and hands over to [`dialplane::cli`].

fn main() -> std::process::ExitCode {
    dialplane::cli::main()
}
