"""One module per `hubdeploy` command; see hubdeploy.cli for the contract."""
