use tabulate::prelude::*;

#[derive(Describe)]
struct Output {
    #[tabulate(skip, rename = "h")]
    hidden: Tensor,
}

fn main() {}
