use tabulate::prelude::*;

#[derive(Tabulate)]
struct TwoIdentities {
    #[tabulate(identity)]
    first: ModuleIdentity,
    #[tabulate(identity)]
    second: ModuleIdentity,
}

#[derive(Tabulate)]
struct SkippedIdentity {
    #[tabulate(identity, skip)]
    identity: ModuleIdentity,
}

#[derive(Tabulate)]
struct NotAnIdentity {
    #[tabulate(identity)]
    name: String,
}

fn main() {}
