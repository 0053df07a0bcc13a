pub(crate) mod dnsmasq;
pub(crate) mod kamailio;
pub(crate) mod linphone;
pub(crate) mod registered;
