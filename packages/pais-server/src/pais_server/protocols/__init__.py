"""The protocols PAIS speaks: each translates its requests into runs and run events into its wire format."""
