/*
 * Replays the seed corpus of fuzz_wire (tests/unit/corpus, or the files
 * and folders named on the command line) through the same
 * LLVMFuzzerTestOneInput, as a plain test in every build (label fuzz), so
 * that every corpus input runs under the sanitizer build too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		fprintf(stderr, "fuzz_replay: %s: cannot read\n", path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	rewind(f);
	/* An exact-size copy, so that ASan sees any over-read. */
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "fuzz_replay: %s: cannot read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

/* Replays path (a file, or every file in a folder); returns the count. */
static long
replay(const char *path)
{
	struct stat st;
	struct dirent **names;
	long count = 0;
	int n;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "fuzz_replay: %s: no such file\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) == 0 ? 1 : -1;
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char full[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(full, sizeof(full), "%s/%s", path,
			    names[i]->d_name);
			if (replay_file(full) != 0)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int
main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		total = replay(FUZZ_CORPUS_DIR);
	} else {
		for (int i = 1; i < argc && total >= 0; i++) {
			long n = replay(argv[i]);
			total = n < 0 ? -1 : total + n;
		}
	}
	if (total <= 0) {
		fprintf(stderr, "fuzz_replay: no corpus replayed\n");
		return 1;
	}
	printf("fuzz_replay: %ld inputs replayed, none crashed\n", total);
	return 0;
}
