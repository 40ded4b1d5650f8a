use tabulate::prelude::*;

/// A field of a generic type must hold a module: the derive bounds it on `Submodules`.
#[derive(Tabulate)]
struct Wrapper<M> {
    inner: M,
}

fn main() {
    let model = Wrapper { inner: 3_u32 };
    let _ = tabulate(&model);
}
