"""A fake OpenHands 1.11.0 app server (plus a minimal agent-server face), faithful to the V1
contract in ../shared/spec and checked against the real server's OpenAPI document."""
