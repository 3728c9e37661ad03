"""Book support: profiles that produce the chapters' configs, chapter start and finish, claims, tables and
figures. The only layer that knows the book exists."""
