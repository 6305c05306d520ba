//! Methods with every receiver, associated functions, and trait methods.
#![deny(warnings)]

use std::pin::Pin;

use zipkin_rs::zipkin_span;

#[derive(Default)]
struct Store {
    items: Vec<String>,
}

impl Store {
    #[zipkin_span]
    fn new() -> Self {
        Self::default()
    }

    #[zipkin_span]
    fn len(&self) -> usize {
        self.items.len()
    }

    #[zipkin_span]
    fn first(&self) -> Option<&String> {
        self.items.first()
    }

    #[zipkin_span]
    fn push(&mut self, item: impl Into<String>) -> &mut Self {
        self.items.push(item.into());
        self
    }

    #[zipkin_span]
    fn into_items(self) -> Vec<String> {
        self.items
    }

    #[zipkin_span]
    fn boxed(self: Box<Self>) -> usize {
        self.items.len()
    }

    #[zipkin_span]
    fn pinned(self: Pin<&mut Self>) -> usize {
        self.items.len()
    }

    #[zipkin_span(err)]
    fn first_mut(&mut self) -> Result<&mut String, &'static str> {
        self.items.first_mut().ok_or("empty")
    }
}

trait Greeter {
    fn name(&self) -> String;

    #[zipkin_span]
    fn greet(&self) -> String {
        format!("hello {}", self.name())
    }
}

impl Greeter for Store {
    #[zipkin_span]
    fn name(&self) -> String {
        self.items.join(",")
    }
}

struct Wrapper<T>(T);

impl<T: Clone> Wrapper<T> {
    #[zipkin_span]
    fn get<U>(&self, f: impl Fn(T) -> U) -> U
    where
        U: Default,
    {
        f(self.0.clone())
    }
}

fn main() {
    let mut s = Store::new();
    s.push("a").push("b");
    let _ = (s.len(), s.first().cloned(), s.greet());
    let _ = s.first_mut().map(|f| f.push('!'));
    let _ = Pin::new(&mut s).pinned();
    let _ = Box::new(Store::new()).boxed();
    let _ = s.into_items();
    let _ = Wrapper(1u8).get(u32::from);
}
