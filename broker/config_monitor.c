/*
 * broker.yaml's monitoring keys (control.c, metrics.c): control_socket,
 * metrics_file and metrics_interval. Called by broker_config_load once the
 * data folder is known, since the socket's default is inside it.
 */
#include <stdio.h>
#include <string.h>

#include "broker/config.h"

void
broker_config_monitoring(struct yamlconf *y,
    const struct yamlconf_node *control, const struct yamlconf_node *metrics,
    const struct yamlconf_node *interval, struct broker_config *c)
{
	char path[PATH_MAX];

	if (control != NULL) {
		yamlconf_path(y, control, path, sizeof(path));
		if (strlen(path) >= sizeof(c->control_socket))
			yamlconf_error(y, control,
			    "control_socket: '%s' is longer than a unix "
			    "socket's path may be (%zu bytes)",
			    path, sizeof(c->control_socket) - 1);
		else
			snprintf(c->control_socket, sizeof(c->control_socket),
			    "%s", path);
	} else if (strlen(c->data) + sizeof("/control.sock") <=
	    sizeof(c->control_socket)) {
		snprintf(c->control_socket, sizeof(c->control_socket),
		    "%s/control.sock", c->data);
	}
	yamlconf_path(y, metrics, c->metrics_file, sizeof(c->metrics_file));
	yamlconf_duration(
	    y, interval, "metrics_interval", &c->metrics_interval_ms);
	if (interval != NULL && c->metrics_interval_ms < 1000)
		yamlconf_error(y, interval,
		    "metrics_interval: at least 1s (the file is rewritten "
		    "that often)");
}
