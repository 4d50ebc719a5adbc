"""What a tenant sees of its own account."""

from pydantic import BaseModel, Field


class AccountBalance(BaseModel):
    """Balances in integer micro-credits (1 credit = 1,000,000)."""

    account_id: str
    name: str
    balance: int = Field(description="Credits added minus credits captured.")
    held: int = Field(description="Sum of the holds of unfinished jobs.")
    available: int = Field(description="balance - held: what new jobs can hold.")
    price_multiplier: str = Field(description="Applied to list prices, e.g. `0.8`.")
