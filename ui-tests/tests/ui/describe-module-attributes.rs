use tabulate::prelude::*;

#[derive(Describe)]
#[tabulate(rename = "Out")]
struct Output {
    #[tabulate(identity)]
    identity: ModuleIdentity,
}

fn main() {}
