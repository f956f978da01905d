"""The AWS APIs the request path calls (DynamoDB, Secrets Manager GetSecretValue), spoken directly.

botocore builds a client from its data files (the service model, endpoint rules, partitions: ~60-70 ms of CPU
for DynamoDB's) after ~100 ms of importing boto3 and botocore; a Lambda cold start paid both before its first
answer. These calls need far less: SigV4 (`sigv4`), credentials from the environment or the container endpoint
(`credentials`), one JSON POST per operation with botocore's standard retries (`client`) over kept-alive
standard-library connections (`transport`). docs/deployment.md, "Cold start", has the figures. botocore is
still used where it is the right tool and rare: Bedrock's signing and event streams, S3 image URLs,
Powertools' idempotency layer (Idempotency-Key requests), `lambdarouter store init`.
"""

from lambdarouter.aws.client import AwsError

__all__ = ["AwsError"]
