"""The report's pages: each turns collected views into matplotlib figures."""
