pub(crate) mod kamailio;
