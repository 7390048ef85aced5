"""The provider tests' API key."""

# Long enough that mask_secret shows only its ends; distinctive enough to grep for.
API_KEY = "sk-live-0123456789abcdef-TOPSECRET-fedcba9876543210"
