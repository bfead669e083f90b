//! The `khabar` binary: see `khabar --help`.

fn main() -> std::process::ExitCode {
    khabar::allocator::shorten_purge_delay();
    khabar::cli::main()
}
