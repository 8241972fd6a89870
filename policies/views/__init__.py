"""The app's views, one module per page: thin, they call a read model or the change path."""
