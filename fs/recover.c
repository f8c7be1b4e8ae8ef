/* The recover subcommand. See recover.h. */
#include "recover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "journal.h"

/* Each line of the report on stderr, under the command's name. */
static void say_report(const char *report)
{
	while (report && *report) {
		const char *nl = strchr(report, '\n');
		int n = nl ? (int)(nl - report) : (int)strlen(report);
		fprintf(stderr, "dsymfs recover: %.*s\n", n, report);
		report += n + (nl != NULL);
	}
}

int recover_main(const char *config, int argc, char **argv)
{
	(void)argv;
	if (argc != 1 || !config) {
		fprintf(stderr, "usage: dsymfs recover --config FILE\n");
		return 2;
	}
	struct conf conf = {0};
	char err[1024];
	int status = 1;
	int rc = conf_load_file(&conf, config, err, sizeof err);
	if (!rc && !conf.state_dir) {
		snprintf(err, sizeof err, "%s: no state_dir is configured: nothing to recover",
			 config);
		rc = -1;
	}
	char *report = NULL;
	if (!rc)
		rc = journal_recover(conf.state_dir, &conf.limits, &report, err, sizeof err);
	say_report(report);
	free(report);
	if (rc)
		fprintf(stderr, "dsymfs recover: %s\n", err);
	else
		status = 0;
	conf_free(&conf);
	return status;
}
