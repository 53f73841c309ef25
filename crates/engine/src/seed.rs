//! Generated documents in bulk, for benchmarks, tests and demos: Notes,
//! Items, ToDos, or Sales Invoices of five item rows (with their Customer and Items).

use serde_json::json;

use crate::actor::Actor;
use crate::document::{self, store, WriteOptions};
use crate::error::{Error, Result};
use crate::site::Site;

pub fn seed(site: &Site, doctype: &str, count: u32, batch: u32) -> Result<u32> {
    let reg = site.doctypes();
    let actor = Actor::system();
    if doctype == "Sales Invoice" {
        site.write(|tx| {
            if !store::exists(tx, "Customer", "Seed Customer")? {
                document::insert_in(
                    tx,
                    &reg,
                    &actor,
                    "Customer",
                    json!({"customer_name": "Seed Customer"}),
                    WriteOptions::default(),
                )?;
            }
            for i in 1..=5 {
                let code = format!("SEED-ITEM-{i}");
                if !store::exists(tx, "Item", &code)? {
                    document::insert_in(
                        tx,
                        &reg,
                        &actor,
                        "Item",
                        json!({"item_code": code, "standard_rate": i}),
                        WriteOptions::default(),
                    )?;
                }
            }
            Ok(())
        })?;
    } else if !["Note", "Item", "ToDo"].contains(&doctype) {
        return Err(Error::invalid(
            "doctype",
            "seed makes Note, Item, ToDo or Sales Invoice documents",
        ));
    }
    let mut made = 0;
    while made < count {
        let n = batch.min(count - made);
        site.write(|tx| {
            for k in 0..n {
                let i = made + k;
                let doc = if doctype == "Note" {
                    json!({"title": format!("Seed note {i}"), "content": format!("Generated note number {i}"), "public": i % 2})
                } else if doctype == "ToDo" {
                    // Varied enough to filter, sort and search: a status, a
                    // priority and a day of 2026 each, a word from a short list.
                    const STATUS: [&str; 3] = ["Open", "Closed", "Cancelled"];
                    const PRIORITY: [&str; 3] = ["Low", "Medium", "High"];
                    const WORDS: [&str; 5] = ["invoice", "stock", "delivery", "payment", "visit"];
                    json!({
                        "status": STATUS[(i % 3) as usize],
                        "priority": PRIORITY[(i / 3 % 3) as usize],
                        "date": format!("2026-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
                        "description": format!("Check {} number {i}", WORDS[(i % 5) as usize]),
                    })
                } else if doctype == "Item" {
                    json!({"item_code": format!("ITEM-{i:06}"), "standard_rate": f64::from(i % 100) + 0.5})
                } else {
                    let rows: Vec<_> = (1..=5)
                        .map(|r| json!({"item_code": format!("SEED-ITEM-{r}"), "qty": r, "rate": 2.5, "amount": 2.5 * f64::from(r)}))
                        .collect();
                    json!({"customer": "Seed Customer", "items": rows, "grand_total": 37.5, "remarks": format!("seed {i}")})
                };
                document::insert_in(tx, &reg, &actor, doctype, doc, WriteOptions::default())?;
            }
            Ok(())
        })?;
        made += n;
    }
    Ok(made)
}
