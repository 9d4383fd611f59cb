"""mailbot: email-driven intake of PPK password-reset and user-ID requests for LPSE offices."""
