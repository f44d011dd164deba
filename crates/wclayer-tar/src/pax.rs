//! PAX record keys and value codecs used by Windows layer tars.
