/* reconcile.c — placeholder until the module lands. */
#include "log.h"
#include "settle.h"

int cmd_reconcile(struct settle_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	log_error("not implemented yet");
	return EXIT_FAILED;
}

