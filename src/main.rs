//! The `khabar` binary: see `khabar --help`.

fn main() -> std::process::ExitCode {
    khabar::cli::main()
}
