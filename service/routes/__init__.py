"""Thin routers: validate, check the key's role, call crud or the reader, shape the answer."""
