/* test-json-caps.c — every JSON file the core reads has a size cap of its
 * kind and is refused past it before it is read.
 *
 * Each kind (config.json, scheduler_config.json, a sharded index, the four
 * tokenizer files, a safetensors header) is made a 300 MB sparse file and
 * opened the way the program opens it (a model, a pipeline, a tokenizer
 * folder): refused in under a second, with the process's resident memory
 * growing by less than 100 MB.  A file just past its cap, otherwise valid
 * JSON, is refused as too big, not parsed.
 */
#include "gen-config.h"
#include "gen-error.h"
#include "gen-model.h"
#include "gen-pipeline.h"
#include "gen-safetensors.h"
#include "gen-sched-config.h"
#include "gen-tokenizer.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HUGE_BYTES ((off_t) 300 * 1000 * 1000)

typedef enum { OPEN_MODEL, OPEN_PIPELINE, OPEN_TOKENIZER } Opener;

static const struct
{
  const char *file;   /* in the folder: the one made too big */
  Opener      open;
  gsize       cap;    /* 0: not tried just past the cap */
} kinds[] = {
  { "config.json", OPEN_MODEL, GEN_CONFIG_MAX_BYTES },
  { "scheduler_config.json", OPEN_PIPELINE, GEN_SCHED_CONFIG_MAX_BYTES },
  { "diffusion_pytorch_model.safetensors.index.json", OPEN_MODEL, GEN_SAFETENSORS_MAX_INDEX },
  { "model.safetensors.index.json", OPEN_MODEL, GEN_SAFETENSORS_MAX_INDEX }, /* transformers' */
  { "diffusion_pytorch_model.safetensors", OPEN_MODEL, 0 }, /* its JSON header */
  { "vocab.json", OPEN_TOKENIZER, 0 },                      /* 16 MiB: not written out */
  { "merges.txt", OPEN_TOKENIZER, 0 },
  { "tokenizer_config.json", OPEN_TOKENIZER, GEN_TOKENIZER_MAX_CONFIG_BYTES },
  { "special_tokens_map.json", OPEN_TOKENIZER, GEN_TOKENIZER_MAX_CONFIG_BYTES },
};

/* A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or 0. */
static gint64
status_kb (const char *field)
{
  char *status = NULL, *at;
  gint64 kb = 0;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL)
      && (at = strstr (status, field)) != NULL)
    kb = g_ascii_strtoll (at + strlen (field) + 1, NULL, 10);
  g_free (status);
  return kb;
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_free (path);
}

/* A folder where FILE is the only thing wrong: a small UNet (config, and
 * weights unless FILE is a weights file) for models and pipelines, a tiny
 * vocabulary for tokenizers. */
static char *
make_folder (Opener open, const char *file)
{
  char *dir;

  if (open == OPEN_TOKENIZER)
    {
      dir = tmp_dir_new ();
      write_file (dir, "vocab.json", "{\"a\": 0, \"b\": 1, \"ab</w>\": 2}");
      write_file (dir, "merges.txt", "#version: 0.2\na b</w>\n");
      write_file (dir, "tokenizer_config.json", "{}");
      write_file (dir, "special_tokens_map.json", "{}");
    }
  else
    {
      char *config = g_strdup_printf (tiny_unet_config, "");
      Tensors *t = strstr (file, ".safetensors") ? NULL : tiny_unet_weights ();

      dir = make_model (config, t);
      if (t)
        tensors_free (t);
      g_free (config);
    }
  return dir;
}

/* Opens DIR as OPEN does; FALSE with ERROR set on failure. */
static gboolean
open_folder (Opener open, const char *dir, GError **error)
{
  switch (open)
    {
    case OPEN_MODEL:
      {
        GenModel *m = gen_model_load (dir, error);
        gen_model_free (m);
        return m != NULL;
      }
    case OPEN_PIPELINE:
      {
        GenPipeline *p = gen_pipeline_load (dir, NULL, error);
        gen_pipeline_free (p);
        return p != NULL;
      }
    case OPEN_TOKENIZER:
      {
        GenTokenizer *t = gen_tokenizer_open (dir, NULL, error);
        gen_tokenizer_free (t);
        return t != NULL;
      }
    }
  return FALSE;
}

/* 300 MB of each kind (sparse: no disk, but slow and huge if read). */
static void
test_huge (void)
{
  gint64 rss0 = status_kb ("VmRSS:"), hwm;

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      char *dir = make_folder (kinds[i].open, kinds[i].file);
      char *path = g_build_filename (dir, kinds[i].file, NULL);
      FILE *f = g_fopen (path, "wb");
      GError *error = NULL;
      gint64 t0;

      g_assert_nonnull (f);
      if (g_str_has_suffix (kinds[i].file, ".safetensors"))
        {
          /* a header length that fills the file */
          guint64 hlen = (guint64) HUGE_BYTES - 8;
          guint8 le[8];

          for (int b = 0; b < 8; b++)
            le[b] = (guint8) (hlen >> (8 * b));
          g_assert_cmpuint (fwrite (le, 1, 8, f), ==, 8);
        }
      else
        g_assert_cmpuint (fwrite ("{\"a\": ", 1, 6, f), ==, 6);
      g_assert_cmpint (fflush (f), ==, 0);
      g_assert_cmpint (ftruncate (fileno (f), HUGE_BYTES), ==, 0);
      fclose (f);

      t0 = g_get_monotonic_time ();
      g_assert_false (open_folder (kinds[i].open, dir, &error));
      if (g_get_monotonic_time () - t0 >= G_USEC_PER_SEC)
        g_error ("%s: %.2f s to refuse", kinds[i].file, (g_get_monotonic_time () - t0) / 1e6);
      g_assert_error (error, GEN_ERROR, GEN_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, kinds[i].file));
      g_test_message ("%s: %s", kinds[i].file, error->message);
      g_clear_error (&error);
      g_unlink (path);
      g_free (path);
      tmp_dir_remove (dir);
    }
  hwm = status_kb ("VmHWM:");
  g_test_message ("resident: %.1f MB at the start, at most %.1f MB", rss0 / 1024.0, hwm / 1024.0);
  if (rss0 > 0 && hwm - rss0 >= 100 * 1024)
    g_error ("resident memory grew by %.1f MB", (hwm - rss0) / 1024.0);
}

/* One byte past the cap, valid JSON all the same ("{}" and spaces): refused
 * as too big, not parsed. */
static void
test_past_cap (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      char *dir, *path, *text;
      GError *error = NULL;

      if (kinds[i].cap == 0)
        continue;
      dir = make_folder (kinds[i].open, kinds[i].file);
      path = g_build_filename (dir, kinds[i].file, NULL);
      text = g_malloc (kinds[i].cap + 1);
      memset (text, ' ', kinds[i].cap + 1);
      memcpy (text, "{}", 2);
      g_assert_true (g_file_set_contents (path, text, (gssize) kinds[i].cap + 1, NULL));
      g_assert_false (open_folder (kinds[i].open, dir, &error));
      g_assert_error (error, GEN_ERROR, GEN_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, kinds[i].file));
      g_assert_nonnull (strstr (error->message, "too big"));
      g_clear_error (&error);
      g_free (text);
      g_unlink (path);
      g_free (path);
      tmp_dir_remove (dir);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-caps/huge", test_huge);
  g_test_add_func ("/json-caps/past-cap", test_past_cap);
  return g_test_run ();
}
