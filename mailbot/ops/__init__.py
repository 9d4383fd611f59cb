"""Operating mailbot unattended: the health checks of `mailbot status` and the ops_alert mails."""
