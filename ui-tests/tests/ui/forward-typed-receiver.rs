use std::rc::Rc;

use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward]
    fn forward(self: &Rc<Self>, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
