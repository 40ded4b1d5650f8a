use tabulate::prelude::*;

struct Config {
    rate: f32,
}

/// A field of a generic type must hold a module: the derive bounds it on `Submodules`.
/// (`Wrapper<u32>` is fine: a number holds no module.)
#[derive(Tabulate)]
struct Wrapper<M> {
    inner: M,
}

fn main() {
    let model = Wrapper { inner: Config { rate: 0.1 } };
    let _ = model.inner.rate;
    let _ = tabulate(&model);
}
