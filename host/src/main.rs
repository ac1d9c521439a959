//! The `testmesh` binary: parses arguments and hands over to [`testmesh::cli`].

fn main() -> std::process::ExitCode {
    testmesh::cli::main()
}
