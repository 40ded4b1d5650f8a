//! Rendering edge cases: wide characters, control characters in names, narrow widths.

use tabulate::RenderOptions;
use tabulate::nn::Dense;
use tabulate::prelude::*;

/// A module whose two layers have the names given.
#[derive(Tabulate)]
struct Named {
    first: String,
    second: String,
}

impl Named {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(2).name(self.first.clone()).forward(x)?;
        Dense::new(2).name(self.second.clone()).forward(&h)
    }
}

fn table(first: &str, second: &str, width: Option<usize>) -> String {
    let model = Named {
        first: first.into(),
        second: second.into(),
    };
    let x = Tensor::new(DType::F32, [1, 2]);
    let summary = tabulate(&model).run(|m| m.forward(&x)).expect("runs");
    let options = width.map_or_else(RenderOptions::new, |w| RenderOptions::new().width(w));
    summary.render(&options)
}

/// CJK characters and emoji take two cells: the columns line up on a terminal.
#[test]
fn wide_characters_take_two_cells() {
    let expected = r"
                             Named Summary                              
┏━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ path   ┃ module ┃ inputs       ┃ outputs      ┃ params               ┃
┡━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│        │ Named  │ float32[1,2] │ float32[1,2] │                      │
├────────┼────────┼──────────────┼──────────────┼──────────────────────┤
│ 密集層 │ Dense  │ float32[1,2] │ float32[1,2] │ bias: float32[2]     │
│        │        │              │              │ kernel: float32[2,2] │
│        │        │              │              │                      │
│        │        │              │              │ 6 (24 B)             │
├────────┼────────┼──────────────┼──────────────┼──────────────────────┤
│ 😀     │ Dense  │ float32[1,2] │ float32[1,2] │ bias: float32[2]     │
│        │        │              │              │ kernel: float32[2,2] │
│        │        │              │              │                      │
│        │        │              │              │ 6 (24 B)             │
├────────┼────────┼──────────────┼──────────────┼──────────────────────┤
│        │        │              │        Total │ 12 (48 B)            │
└────────┴────────┴──────────────┴──────────────┴──────────────────────┘
                                                                        
                      Total Parameters: 12 (48 B)                       

";
    assert_eq!(table("密集層", "😀", None), expected);
}

/// Narrowed, a wide name is cut by cells, not characters.
#[test]
fn wide_characters_are_cut_by_display_width() {
    let expected = r"
             Named Summary              
┏━━━━━━━┳━━━━━━━┳━━━━━━━┳━━━━━━┳━━━━━━━┓
┃ path  ┃ modu… ┃ inpu… ┃ out… ┃ para… ┃
┡━━━━━━━╇━━━━━━━╇━━━━━━━╇━━━━━━╇━━━━━━━┩
│       │ Named │ floa… │ flo… │       │
├───────┼───────┼───────┼──────┼───────┤
│ 密集… │ Dense │ floa… │ flo… │ bias: │
│       │       │       │      │ floa… │
│       │       │       │      │ kern… │
│       │       │       │      │ floa… │
│       │       │       │      │       │
│       │       │       │      │ 6 (24 │
│       │       │       │      │ B)    │
├───────┼───────┼───────┼──────┼───────┤
│ 😀    │ Dense │ floa… │ flo… │ bias: │
│       │       │       │      │ floa… │
│       │       │       │      │ kern… │
│       │       │       │      │ floa… │
│       │       │       │      │       │
│       │       │       │      │ 6 (24 │
│       │       │       │      │ B)    │
├───────┼───────┼───────┼──────┼───────┤
│       │       │       │ Tot… │ 12    │
│       │       │       │      │ (48   │
│       │       │       │      │ B)    │
└───────┴───────┴───────┴──────┴───────┘
                                        
      Total Parameters: 12 (48 B)       

";
    assert_eq!(table("密集層", "😀", Some(40)), expected);
}

/// An ANSI escape, a newline, a tab, DEL and a right-to-left override in names are
/// written as escapes: they cannot restyle the terminal or break the table.
#[test]
fn control_characters_in_names_are_escaped() {
    let expected = r"
                                      Named Summary                                       
┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ path                     ┃ module ┃ inputs       ┃ outputs      ┃ params               ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│                          │ Named  │ float32[1,2] │ float32[1,2] │                      │
├──────────────────────────┼────────┼──────────────┼──────────────┼──────────────────────┤
│ red\x1b[31m              │ Dense  │ float32[1,2] │ float32[1,2] │ bias: float32[2]     │
│                          │        │              │              │ kernel: float32[2,2] │
│                          │        │              │              │                      │
│                          │        │              │              │ 6 (24 B)             │
├──────────────────────────┼────────┼──────────────┼──────────────┼──────────────────────┤
│ two\nlines\t\x7f\u{202e} │ Dense  │ float32[1,2] │ float32[1,2] │ bias: float32[2]     │
│                          │        │              │              │ kernel: float32[2,2] │
│                          │        │              │              │                      │
│                          │        │              │              │ 6 (24 B)             │
├──────────────────────────┼────────┼──────────────┼──────────────┼──────────────────────┤
│                          │        │              │        Total │ 12 (48 B)            │
└──────────────────────────┴────────┴──────────────┴──────────────┴──────────────────────┘
                                                                                          
                               Total Parameters: 12 (48 B)                                

";
    assert_eq!(
        table("red\x1b[31m", "two\nlines\t\u{7f}\u{202e}", None),
        expected
    );
}

/// Below one character per column, the table keeps its minimum width (4 × columns + 1)
/// and stays aligned; the caption is not cut.
#[test]
fn a_width_below_the_minimum_keeps_the_minimum_table() {
    let expected = r"
    Named Summary    
┏━━━┳━━━┳━━━┳━━━┳━━━┓
┃ … ┃ … ┃ … ┃ … ┃ … ┃
┡━━━╇━━━╇━━━╇━━━╇━━━┩
│   │ … │ … │ … │   │
├───┼───┼───┼───┼───┤
│ a │ … │ … │ … │ … │
│   │   │   │   │ … │
│   │   │   │   │ … │
│   │   │   │   │ … │
│   │   │   │   │   │
│   │   │   │   │ 6 │
│   │   │   │   │ … │
│   │   │   │   │ … │
├───┼───┼───┼───┼───┤
│ b │ … │ … │ … │ … │
│   │   │   │   │ … │
│   │   │   │   │ … │
│   │   │   │   │ … │
│   │   │   │   │   │
│   │   │   │   │ 6 │
│   │   │   │   │ … │
│   │   │   │   │ … │
├───┼───┼───┼───┼───┤
│   │   │   │ … │ … │
│   │   │   │   │ … │
│   │   │   │   │ … │
└───┴───┴───┴───┴───┘
                     
Total Parameters: 12 (48 B)

";
    assert_eq!(table("a", "b", Some(5)), expected);
}
