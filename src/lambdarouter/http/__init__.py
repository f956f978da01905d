"""The Starlette app: the gateway's only HTTP surface, assembled per Lambda function from route groups."""
