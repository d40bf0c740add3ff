//! The one catalog of domains and subdomains. Registration, dataset listings and
//! federations all validate against this list, so it must not be duplicated elsewhere.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Subdomain {
    /// Stable identifier stored in the database and sent over the API.
    pub id: &'static str,
    /// What a person reads.
    pub name: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Domain {
    pub id: &'static str,
    pub name: &'static str,
    pub subdomains: &'static [Subdomain],
}

macro_rules! subdomains {
    ($($id:literal => $name:literal),* $(,)?) => {
        &[$(Subdomain { id: $id, name: $name }),*]
    };
}

pub const CATALOG: &[Domain] = &[
    Domain {
        id: "healthcare",
        name: "Healthcare",
        subdomains: subdomains!(
            "cardiology" => "Cardiology",
            "oncology" => "Oncology",
            "radiology" => "Radiology",
            "genomics" => "Genomics",
            "public-health" => "Public health",
        ),
    },
    Domain {
        id: "finance",
        name: "Finance",
        subdomains: subdomains!(
            "credit-risk" => "Credit risk",
            "fraud-detection" => "Fraud detection",
            "insurance" => "Insurance",
            "trading" => "Trading",
            "banking-operations" => "Banking operations",
        ),
    },
    Domain {
        id: "technology",
        name: "Technology",
        subdomains: subdomains!(
            "cybersecurity" => "Cybersecurity",
            "cloud-operations" => "Cloud operations",
            "software-quality" => "Software quality",
            "telecommunications" => "Telecommunications",
            "iot" => "IoT",
        ),
    },
    Domain {
        id: "retail",
        name: "Retail",
        subdomains: subdomains!(
            "demand-forecasting" => "Demand forecasting",
            "customer-analytics" => "Customer analytics",
            "pricing" => "Pricing",
            "supply-chain" => "Supply chain",
            "e-commerce" => "E-commerce",
        ),
    },
    Domain {
        id: "education",
        name: "Education",
        subdomains: subdomains!(
            "student-success" => "Student success",
            "admissions" => "Admissions",
            "learning-analytics" => "Learning analytics",
            "assessment" => "Assessment",
            "research" => "Research",
        ),
    },
];

/// Looks a domain up by id.
pub fn domain(id: &str) -> Option<&'static Domain> {
    CATALOG.iter().find(|d| d.id == id)
}

/// A member's area as people read it, the one spelling everywhere: "Healthcare · Oncology"
/// (the ids themselves if the catalog does not know them).
pub fn area_name(domain_id: &str, subdomain_id: &str) -> String {
    domain(domain_id)
        .map(|d| {
            let sub = d.subdomains.iter().find(|s| s.id == subdomain_id).map_or(subdomain_id, |s| s.name);
            format!("{} · {}", d.name, sub)
        })
        .unwrap_or_else(|| format!("{domain_id} · {subdomain_id}"))
}

/// True when `subdomain` belongs to `domain`; the check every write of a (domain, subdomain) pair needs.
pub fn is_valid_pair(domain_id: &str, subdomain_id: &str) -> bool {
    domain(domain_id).is_some_and(|d| d.subdomains.iter().any(|s| s.id == subdomain_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn five_domains_of_five_subdomains_with_unique_ids() {
        assert_eq!(CATALOG.len(), 5);
        let mut ids = HashSet::new();
        for d in CATALOG {
            assert_eq!(d.subdomains.len(), 5, "{}", d.id);
            assert!(ids.insert(d.id), "duplicate domain {}", d.id);
            let mut subs = HashSet::new();
            for s in d.subdomains {
                assert!(subs.insert(s.id), "duplicate subdomain {}", s.id);
                assert!(s.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", s.id);
            }
        }
    }

    #[test]
    fn pairs_are_checked_against_their_own_domain() {
        assert!(is_valid_pair("healthcare", "oncology"));
        assert!(is_valid_pair("finance", "fraud-detection"));
        assert!(!is_valid_pair("finance", "oncology"));
        assert!(!is_valid_pair("space", "oncology"));
        assert!(!is_valid_pair("healthcare", ""));
    }
}
