//! Checks of request fields, each naming the field at fault, and the
//! order's amount, computed here from the items with checked arithmetic.
//! Everything a client sends passes through here before it is stored; the
//! checks every workload shares come from [`mesh::input`].

use mesh::input::MAX_TEXT_LEN;
pub(crate) use mesh::input::{currency, id, key, text};
use mesh_proto::orders::v1::OrderItem;

use crate::Error;

/// Most items in one order.
pub(crate) const MAX_ITEMS: usize = 100;
/// Most units of one item.
pub(crate) const MAX_QUANTITY: i32 = 10_000;
/// Highest unit price, in minor units.
pub(crate) const MAX_UNIT_PRICE_MINOR: i64 = 1_000_000_000;
/// Highest order total, in minor units.
pub(crate) const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// The total of `items` in minor units: every item within its limits, the
/// sum within [`MAX_AMOUNT_MINOR`], no step allowed to overflow.
pub(crate) fn amount(items: &[OrderItem]) -> Result<i64, Error> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(Error::Invalid(format!(
            "an order has 1 to {MAX_ITEMS} items"
        )));
    }
    let mut total: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| format!("items[{i}].{name}");
        if item.sku.is_empty() || item.sku.len() > MAX_TEXT_LEN {
            return Err(Error::Invalid(format!(
                "{} must be 1 to {MAX_TEXT_LEN} bytes",
                field("sku")
            )));
        }
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(Error::Invalid(format!(
                "{} must be between 1 and {MAX_QUANTITY}",
                field("quantity")
            )));
        }
        if !(1..=MAX_UNIT_PRICE_MINOR).contains(&item.unit_price_minor) {
            return Err(Error::Invalid(format!(
                "{} must be between 1 and {MAX_UNIT_PRICE_MINOR}",
                field("unit_price_minor")
            )));
        }
        total = item
            .unit_price_minor
            .checked_mul(i64::from(item.quantity))
            .and_then(|line| total.checked_add(line))
            .filter(|total| *total <= MAX_AMOUNT_MINOR)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the order total must be at most {MAX_AMOUNT_MINOR}"
                ))
            })?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(quantity: i32, unit_price_minor: i64) -> OrderItem {
        OrderItem {
            sku: "sku".to_owned(),
            quantity,
            unit_price_minor,
        }
    }

    #[test]
    fn the_amount_is_the_sum_of_the_lines() {
        assert_eq!(amount(&[item(2, 150), item(1, 99)]).expect("valid"), 399);
    }

    #[test]
    fn zero_negative_and_oversized_items_are_refused() {
        for bad in [
            vec![],
            vec![item(0, 100)],
            vec![item(-1, 100)],
            vec![item(1, 0)],
            vec![item(1, -100)],
            vec![item(1, i64::MAX)],
            vec![item(MAX_QUANTITY + 1, 1)],
            vec![item(1, 1); MAX_ITEMS + 1],
            vec![item(MAX_QUANTITY, MAX_UNIT_PRICE_MINOR); 2],
        ] {
            assert!(amount(&bad).is_err(), "{bad:?}");
        }
        let nameless = OrderItem {
            sku: String::new(),
            ..item(1, 1)
        };
        assert!(amount(&[nameless]).is_err());
    }
}
