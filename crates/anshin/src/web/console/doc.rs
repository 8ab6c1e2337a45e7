//! `docs/access-control.md`, generated from the policy
//! (`anshin_core::access`) and the console's routes ([`super::routes`]).
//! `anshin staff policy-doc` prints it; a test fails when the committed
//! file differs from what this writes.

use std::fmt::Write as _;

use anshin_core::access::{self, Action, Who};
use anshin_domain::StaffRole;

/// The document's text.
pub fn access_control_md() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Access control (C27)\n\n\
         Generated from `crates/anshin-core/src/access/mod.rs` and the console's routes \
         (`crates/anshin/src/web/console/mod.rs`) by `anshin staff policy-doc`; do not edit \
         by hand (the test `c27_access_control_doc_is_fresh` fails when this file is stale). \
         Design: `docs/adr/0010-access-control.md`.\n\n\
         Deny by default: a request is allowed only when its route names an action, the \
         client is inside the action's area networks (`staff.areas.<area>.allowed_networks`, \
         when set; the whole listener answers only `staff.allowed_networks`), the role may \
         take the action, where marked the second factor was proved within \
         `staff.step_up_secs` (login or step-up), where marked the staff member is on an open \
         shift checked in from this session (C24), and where marked they are not the \
         requester of the record they decide (C25).\n"
    );
    let _ = writeln!(out, "## Actions\n");
    let _ = writeln!(
        out,
        "| action | who | area | step-up | shift | not requester | what |\n|---|---|---|---|---|---|---|"
    );
    for rule in access::policy() {
        let who = match rule.who {
            Who::Anyone => "anyone on an allowed network".to_owned(),
            Who::AnyStaff => "any signed-in staff".to_owned(),
            Who::Roles(r) => r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} | {} | {} | {} |",
            rule.action.as_str(),
            who,
            rule.area.as_str(),
            yes(rule.step_up),
            yes(rule.shift),
            yes(rule.not_requester),
            rule.summary
        );
    }
    let _ = writeln!(out, "\n## Decisions\n");
    for (subject, decision) in access::DECISIONS {
        let _ = writeln!(out, "- **{subject}.** {decision}");
    }
    let _ = writeln!(out, "\n## Roles × actions\n");
    let mut head = String::from("| role |");
    let mut sep = String::from("|---|");
    for a in Action::ALL {
        let _ = write!(head, " `{}` |", a.as_str());
        sep.push_str("---|");
    }
    let _ = writeln!(out, "{head}\n{sep}");
    for role in StaffRole::ALL {
        let _ = write!(out, "| `{}` |", role.as_str());
        for a in Action::ALL {
            let _ = write!(
                out,
                " {} |",
                if access::role_may(role, a) {
                    "allow"
                } else {
                    "—"
                }
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "\n## Console routes\n");
    let _ = writeln!(out, "| method | path | action |\n|---|---|---|");
    for e in super::routes().entries() {
        let _ = writeln!(
            out,
            "| {} | `{}` | `{}` |",
            e.method,
            e.path,
            e.action.map_or("(none: refused)", Action::as_str)
        );
    }
    out
}
