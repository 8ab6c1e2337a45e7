//! Demo data (`anshin demo seed`): members, shops, items, addresses and
//! orders on a fresh database, so that every page and API has something
//! to show (the dynamic scan, C3, walks them; a developer can look around).
//!
//! Everything goes through the core's own use cases and write path
//! (`Changes` committed by the store): shops, items, addresses, logins and
//! orders are made by the same functions the site calls. Only the members
//! themselves are written directly (as [`Write::CreateMember`], the write a
//! completed sign-up commits), because a sign-up needs a code mailed to a
//! real inbox; one audit entry records the seeding.
//!
//! It refuses a database that already has a member, so it can never touch
//! a real site's data.

use anshin_domain::{
    DisplayName, EmailAddress, ItemId, ItemStatus, Lang, MemberId, OrderId, Quantity, ShopId,
};
use anshin_store::{Changes, NewMember, SessionRecord, TermsConsent, Write};
use secrecy::SecretString;

use crate::Services;
use crate::accounts::{AuthError, Client, TERMS_VERSION, login_password};
use crate::audit::{Actor, AuditAction};
use crate::checkout::CheckoutError;
use crate::member_data::{MemberDataError, RawAddress, ShippingAddress};
use crate::shops::{ItemInput, RawItem, RawShop, ShopError, ShopInput};

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database has members: seeding would mix demo data into a real
    /// site.
    #[error("the database already has {0} member(s); demo data goes only into an empty one")]
    NotEmpty(u64),
    #[error("demo data: {0}")]
    Invalid(&'static str),
    /// The processor did not take the demo card.
    #[error("the demo order was not paid: {0}")]
    NotPaid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    #[error(transparent)]
    MemberData(#[from] MemberDataError),
    #[error(transparent)]
    Store(#[from] anshin_store::StoreError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The member whose password is printed: a scanner or a developer logs
/// in as them. They own a shop (with sales) and have bought from another.
pub const DEMO_EMAIL: &str = "demo@example.test";

/// What was made. The ids are not personal; they let a scanner fill in
/// the path parameters of routes (`/items/{id}`, `/orders/{id}`, …).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoData {
    pub email: String,
    /// Random, made for this database; printed once.
    pub password: String,
    pub members: Vec<MemberId>,
    pub shops: Vec<ShopId>,
    /// Items on sale, then a draft of the demo member's shop.
    pub items: Vec<ItemId>,
    /// The demo member's orders as a buyer.
    pub orders: Vec<OrderId>,
    /// Orders placed in the demo member's shop (their sales).
    pub sales: Vec<OrderId>,
    /// Orders need a configured card processor; without one, none are
    /// placed and this says so.
    pub orders_skipped: bool,
    /// The orders were paid (a card was given).
    pub orders_paid: bool,
}

struct Person {
    email: &'static str,
    name: &'static str,
    lang: Lang,
}

const PEOPLE: [Person; 3] = [
    Person {
        email: DEMO_EMAIL,
        name: "デモ 花子",
        lang: Lang::Ja,
    },
    Person {
        email: "maker@example.test",
        name: "Demo Maker",
        lang: Lang::En,
    },
    Person {
        email: "buyer@example.test",
        name: "デモ 太郎",
        lang: Lang::Ja,
    },
];

/// Fills an empty database with demo data (see the module doc). With
/// `card` (a processor's card reference, `card_…`, as the checkout page's
/// card element returns it), each order is paid through the checkout's
/// own payment call, so that the sellers see them as sales.
pub async fn seed(svc: &Services, card: Option<&str>) -> Result<DemoData, DemoError> {
    let existing = svc.store.incidents().count_members().await?;
    if existing > 0 {
        return Err(DemoError::NotEmpty(existing));
    }
    let now = svc.now();
    let mut members = Vec::new();
    let mut passwords = Vec::new();
    let mut changes = Changes::new();
    for p in &PEOPLE {
        let id: MemberId = svc.new_id();
        let email = EmailAddress::parse(p.email).ok_or(DemoError::Invalid("e-mail"))?;
        let display_name = DisplayName::parse(p.name).ok_or(DemoError::Invalid("name"))?;
        changes.push(Write::CreateMember(NewMember {
            id,
            email,
            display_name,
            language: p.lang,
            created_at: now,
            terms: TermsConsent {
                version: TERMS_VERSION.to_owned(),
                accepted_at: now,
            },
        }));
        let password = new_password(svc);
        let hash = svc.passwords.hash(&password, &svc.random).await?;
        changes.push(Write::SetPasswordHash {
            member: id,
            hash: Some(hash.as_str().to_owned()),
            at: now,
        });
        members.push(id);
        passwords.push(password);
    }
    changes.push_audit(crate::audit::entry(
        svc,
        Actor::System,
        AuditAction::DemoSeeded,
        None,
        None,
        "command_line",
        serde_json::json!({ "members": members.len() }),
    ));
    svc.store.commit(&changes).await?;

    // Shops: the demo member's and the maker's; the third member only buys.
    let mut shops = Vec::new();
    let mut items = Vec::new();
    let mut draft = None;
    let catalogue: [ShopPlan; 2] = [
        (
            "花子の手しごと",
            "手染めの布小物と陶器のお店です。\n\n**一点もの**が中心です。",
            &[
                ("藍染めのハンカチ", "天然藍で染めた綿のハンカチ。", "1800"),
                ("豆皿（白）", "直径 9 cm の小さな器。", "1200"),
            ],
        ),
        (
            "Maker's Workshop",
            "Hand-bound notebooks and prints.",
            &[
                (
                    "A5 notebook",
                    "Hand-bound, 96 pages of cream paper.",
                    "2400",
                ),
                ("Risograph print", "Two colours, A4.", "3000"),
            ],
        ),
    ];
    for (owner, (name, description, list)) in members.iter().zip(catalogue) {
        let shop_input = ShopInput::parse(&RawShop {
            name: name.to_owned(),
            description: description.to_owned(),
        })
        .map_err(|_| DemoError::Invalid("shop"))?;
        let shop = crate::shops::open_shop(svc, *owner, &shop_input).await?;
        shops.push(shop);
        for (title, text, price) in list {
            let input = item_input(title, text, price)?;
            items.push(crate::shops::add_item(svc, *owner, &input, ItemStatus::OnSale).await?);
        }
        if draft.is_none() {
            let input = item_input("試作品（下書き）", "まだ公開していない品。", "500")?;
            draft = Some(crate::shops::add_item(svc, *owner, &input, ItemStatus::Draft).await?);
        }
    }

    // Addresses for the two buyers, then orders through the checkout.
    let demo = *nth(&members, 0)?;
    let buyer = *nth(&members, 2)?;
    for m in [demo, buyer] {
        let address = ShippingAddress::parse(RawAddress {
            recipient_name: "デモ 受取人".into(),
            postal_code: "150-0041".into(),
            prefecture: "東京都".into(),
            city: "渋谷区".into(),
            line1: "神南1-2-3".into(),
            line2: None,
            phone: None,
        })
        .map_err(|_| DemoError::Invalid("address"))?;
        crate::member_data::add_address(svc, m, &address, true).await?;
    }
    let mut orders = Vec::new();
    let mut sales = Vec::new();
    let orders_skipped = !svc.settings.payments.configured();
    if !orders_skipped {
        // The demo member buys the maker's notebook; the third member buys
        // both of the demo member's items (one order: the demo's sale).
        let plan: [(usize, &[usize]); 2] = [(0, &[2]), (2, &[0, 1])];
        for (who, lines) in plan {
            let member = *nth(&members, who)?;
            let session = log_in(svc, nth(&PEOPLE, who)?, nth(&passwords, who)?).await?;
            for &i in lines {
                crate::checkout::add_to_cart(svc, &session, *nth(&items, i)?, Quantity::ONE)
                    .await?;
            }
            let first = *nth(lines, 0)?;
            let shop = *nth(&shops, usize::from(first >= 2))?;
            let address = crate::member_data::list_addresses(svc, member)
                .await?
                .first()
                .map(|a| a.id)
                .ok_or(DemoError::Invalid("address"))?;
            let order = crate::checkout::place_order(svc, &session, shop, address).await?;
            if let Some(card) = card {
                let outcome = crate::checkout::pay(svc, member, order, card).await?;
                if !matches!(outcome, crate::orders::transitions::PayOutcome::Paid) {
                    return Err(DemoError::NotPaid(format!("{outcome:?}")));
                }
            }
            if who == 0 {
                orders.push(order);
            } else {
                sales.push(order);
            }
            crate::sessions::logout(svc, session.id).await?;
        }
    }
    items.extend(draft);
    tracing::info!(
        members = members.len(),
        shops = shops.len(),
        items = items.len(),
        orders = orders.len() + sales.len(),
        "demo data seeded"
    );
    use secrecy::ExposeSecret as _;
    Ok(DemoData {
        email: DEMO_EMAIL.to_owned(),
        password: nth(&passwords, 0)?.expose_secret().to_owned(),
        members,
        shops,
        items,
        orders,
        sales,
        orders_skipped,
        orders_paid: card.is_some() && !orders_skipped,
    })
}

fn item_input(title: &str, description: &str, price: &str) -> Result<ItemInput, DemoError> {
    ItemInput::parse(&RawItem {
        title: title.to_owned(),
        description: description.to_owned(),
        price: price.to_owned(),
        stock: "20".to_owned(),
    })
    .map_err(|_| DemoError::Invalid("item"))
}

/// 24 lowercase hex digits from the CSPRNG (96 bits).
fn new_password(svc: &Services) -> SecretString {
    let mut bytes = [0u8; 12];
    svc.random.fill(&mut bytes);
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    SecretString::from(text)
}

/// A session for a demo member, by the site's own password login.
async fn log_in(
    svc: &Services,
    person: &Person,
    password: &SecretString,
) -> Result<SessionRecord, DemoError> {
    let client = Client {
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        user_agent: Some("anshin demo seed".to_owned()),
        device_token: None,
    };
    let logged_in = login_password(svc, person.email, password, None, &client, None).await?;
    crate::sessions::current(svc, &logged_in.token)
        .await?
        .ok_or(DemoError::Invalid("session"))
}

/// A demo shop: name, description, and its items (title, text, price).
type ShopPlan = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

/// The `i`th of a list the seed made itself (never out of range; an error,
/// not a panic, if a change ever makes it so).
fn nth<T>(list: &[T], i: usize) -> Result<&T, DemoError> {
    list.get(i).ok_or(DemoError::Invalid("demo plan"))
}
