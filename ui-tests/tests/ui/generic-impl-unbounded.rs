use tabulate::prelude::*;

#[derive(Tabulate)]
struct Wrapper<M> {
    inner: M,
}

/// The derive implements `Tabulate` only when `M` holds modules; this impl does not say so.
impl<M> Wrapper<M> {
    #[forward(no_summary)]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
