/* test-sched.c — the sampler table and the pure schedule: every row is
 * reachable by its name, aliases and stable number; the numbers are the
 * GIMP 2.10 ABI (0 .. count−1, DDIM 0); a schedule is a value that equals
 * what the stepper steps on.  (The numbers themselves are held against
 * diffusers by tests/sched_parity.py.) */
#include "gen-error.h"
#include "gen-sched.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void
test_sampler_rows (void)
{
  int n = gen_sampler_info_count ();
  gboolean seen[64] = { FALSE };
  char *names;

  g_assert_cmpint (n, >, 0);
  g_assert_cmpint (n, <, (int) G_N_ELEMENTS (seen));
  g_assert_null (gen_sampler_info (-1));
  g_assert_null (gen_sampler_info (n));
  g_assert_null (gen_sampler_info_from_number (n));
  for (int i = 0; i < n; i++)
    {
      const GenSamplerInfo *info = gen_sampler_info (i);
      GenSamplerKind kind = (GenSamplerKind) -1;

      g_assert_cmpint (info->kind, ==, i);
      g_assert_true (gen_sampler_kind_from_name (info->name, &kind, NULL));
      g_assert_cmpint (kind, ==, i);
      g_assert_cmpstr (gen_sampler_kind_name (info->kind), ==, info->name);
      for (const char *const *alias = info->aliases; alias && *alias; alias++)
        {
          kind = (GenSamplerKind) -1;
          g_assert_true (gen_sampler_kind_from_name (*alias, &kind, NULL));
          g_assert_cmpint (kind, ==, i);
        }
      g_assert_nonnull (info->label);
      g_assert_cmpint (info->order, >=, 1);
      /* numbers: 0 .. n−1, each once */
      g_assert_cmpint (info->number, >=, 0);
      g_assert_cmpint (info->number, <, n);
      g_assert_false (seen[info->number]);
      seen[info->number] = TRUE;
      g_assert_true (gen_sampler_info_from_number (info->number) == info);
    }
  /* the 2.10 procedures' default, scheduler 0 */
  g_assert_cmpint (gen_sampler_info_from_number (0)->kind, ==, GEN_SAMPLER_DDIM);

  names = gen_sampler_names (" or ");
  g_assert_true (g_str_has_prefix (names, gen_sampler_info (0)->name));
  g_assert_true (g_str_has_suffix (names, gen_sampler_info (n - 1)->name));
  g_free (names);
}

static void
test_sigma_rows (void)
{
  int n = gen_sigma_schedule_info_count ();

  g_assert_cmpint (n, >, 0);
  g_assert_null (gen_sigma_schedule_info (n));
  g_assert_null (gen_sigma_schedule_info_from_number (n));
  for (int i = 0; i < n; i++)
    {
      const GenSigmaScheduleInfo *info = gen_sigma_schedule_info (i);
      GenSigmaSchedule schedule = (GenSigmaSchedule) -1;

      g_assert_cmpint (info->schedule, ==, i);
      g_assert_true (gen_sigma_schedule_from_name (info->name, &schedule, NULL));
      g_assert_cmpint (schedule, ==, i);
      g_assert_true (gen_sigma_schedule_info_from_number (info->number) == info);
    }
  g_assert_cmpint (gen_sigma_schedule_info_from_number (0)->schedule, ==, GEN_SIGMAS_DEFAULT);
}

/* Every sampler x sigma schedule: gen_schedule_new refuses exactly the
 * pairs whose row does not use sigmas, and otherwise gives the numbers the
 * stepper reports. */
static void
test_schedule_is_a_value (void)
{
  GenSchedConfig *cfg = gen_sched_config_new_default ();

  for (int i = 0; i < gen_sampler_info_count (); i++)
    for (int j = 0; j < gen_sigma_schedule_info_count (); j++)
      {
        const GenSamplerInfo *info = gen_sampler_info (i);
        GError *error = NULL;
        GenSchedule *sc = gen_schedule_new (cfg, info->kind, (GenSigmaSchedule) j, 10, &error);
        GenSampler *s;

        if (!info->uses_sigmas && j != GEN_SIGMAS_DEFAULT)
          {
            g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
            g_assert_null (sc);
            g_clear_error (&error);
            continue;
          }
        g_assert_no_error (error);
        g_assert_cmpint (sc->kind, ==, info->kind);
        g_assert_cmpint (sc->steps, ==, 10);
        if (info->kind == GEN_SAMPLER_PNDM)
          /* the default config has no skip_prk_steps: PNDMScheduler's
           * Runge-Kutta warm-up takes 12 evaluations for the first 3 steps */
          g_assert_cmpint (sc->n_evals, ==, 10 + 9);
        else
          g_assert_cmpint (sc->n_evals, ==, info->order * 10 - (info->order - 1));
        s = gen_sampler_new (cfg, info->kind, (GenSigmaSchedule) j, 10, 0.0, &error);
        g_assert_no_error (error);
        g_assert_cmpint (gen_sampler_n_evals (s), ==, sc->n_evals);
        g_assert_true (gen_sampler_init_noise_sigma (s) == sc->init_noise_sigma);
        for (int e = 0; e < sc->n_evals; e++)
          {
            g_assert_true (gen_sampler_timestep (s, e) == sc->timesteps[e]);
            g_assert_true (gen_sampler_sigma (s, e) == sc->sigmas[e]);
            g_assert_true (gen_sampler_schedule (s)->timesteps[e] == sc->timesteps[e]);
          }
        gen_sampler_free (s);
        gen_schedule_free (sc);
      }
  gen_sched_config_free (cfg);
}

/* A config file of TEXT in a new temporary folder; the caller removes both. */
static char *
write_config (const char *text, char **dir)
{
  char *path;

  *dir = g_dir_make_tmp ("test-sched-XXXXXX", NULL);
  g_assert_nonnull (*dir);
  path = g_build_filename (*dir, "scheduler_config.json", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
remove_config (char *path, char *dir)
{
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

/* A scheduler config past the cap is refused before it is read: a 300 MB
 * sparse file takes well under a second (reading it whole took 6 GB). */
static void
test_config_size_cap (void)
{
  char *dir, *path = write_config ("", &dir);
  GError *error = NULL;
  GenSchedConfig *cfg;
  gint64 t0;
  FILE *f = g_fopen (path, "r+");

  g_assert_nonnull (f);
  g_assert_cmpint (ftruncate (fileno (f), 300 * 1024 * 1024), ==, 0);
  fclose (f);
  t0 = g_get_monotonic_time ();
  cfg = gen_sched_config_load (path, &error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
  g_assert_null (cfg);
  g_assert_error (error, GEN_ERROR, GEN_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "too big"));
  g_clear_error (&error);
  remove_config (path, dir);
}

/* The model's own sampler: the row of its _class_name, DDIM's place kept
 * for DDPMScheduler and no class, UNSUPPORTED for a class with no row; its
 * sigma schedule from use_karras_sigmas where the class reads it. */
static void
test_model_choice (void)
{
  static const struct
  {
    const char      *json;
    gboolean         ok;
    GenSamplerKind   kind;
    GenSigmaSchedule dpm_sigmas;
  } cases[] = {
    { "{}", TRUE, GEN_SAMPLER_DDIM, GEN_SIGMAS_DEFAULT },
    { "{\"_class_name\": \"DDPMScheduler\"}", TRUE, GEN_SAMPLER_DDIM, GEN_SIGMAS_DEFAULT },
    { "{\"_class_name\": \"PNDMScheduler\", \"skip_prk_steps\": true}", TRUE, GEN_SAMPLER_PNDM,
      GEN_SIGMAS_DEFAULT },
    { "{\"_class_name\": \"LCMScheduler\"}", TRUE, GEN_SAMPLER_LCM, GEN_SIGMAS_DEFAULT },
    { "{\"_class_name\": \"EulerAncestralDiscreteScheduler\", \"use_karras_sigmas\": true}", TRUE,
      GEN_SAMPLER_EULER_A, GEN_SIGMAS_KARRAS },
    { "{\"_class_name\": \"DPMSolverMultistepScheduler\", \"use_karras_sigmas\": true}", TRUE,
      GEN_SAMPLER_DPMPP_2M, GEN_SIGMAS_KARRAS },
    { "{\"_class_name\": \"HeunDiscreteScheduler\", \"use_exponential_sigmas\": true}", TRUE,
      GEN_SAMPLER_HEUN, GEN_SIGMAS_EXPONENTIAL },
    { "{\"_class_name\": \"LMSDiscreteScheduler\"}", FALSE, GEN_SAMPLER_DDIM, GEN_SIGMAS_DEFAULT },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      char *dir, *path = write_config (cases[c].json, &dir);
      GError *error = NULL;
      GenSchedConfig *cfg = gen_sched_config_load (path, &error);
      GenSamplerKind kind = GEN_SAMPLER_DDIM;

      g_assert_no_error (error);
      g_assert_cmpint (gen_sched_config_sampler (cfg, &kind, &error), ==, cases[c].ok);
      if (!cases[c].ok)
        {
          g_assert_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED);
          g_assert_nonnull (strstr (error->message, "LMSDiscreteScheduler"));
          g_clear_error (&error);
        }
      g_assert_cmpint (kind, ==, cases[c].kind);
      /* the keys count only for the classes that read them */
      g_assert_cmpint (gen_sched_config_sigma_schedule (cfg, GEN_SAMPLER_DPMPP_2M), ==,
                       cases[c].dpm_sigmas);
      g_assert_cmpint (gen_sched_config_sigma_schedule (cfg, GEN_SAMPLER_EULER_A), ==,
                       GEN_SIGMAS_DEFAULT);
      g_assert_cmpint (gen_sched_config_sigma_schedule (cfg, GEN_SAMPLER_DDIM), ==,
                       GEN_SIGMAS_DEFAULT);
      gen_sched_config_free (cfg);
      remove_config (path, dir);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sched/sampler-rows", test_sampler_rows);
  g_test_add_func ("/sched/sigma-rows", test_sigma_rows);
  g_test_add_func ("/sched/schedule-is-a-value", test_schedule_is_a_value);
  g_test_add_func ("/sched/config-size-cap", test_config_size_cap);
  g_test_add_func ("/sched/model-choice", test_model_choice);
  return g_test_run ();
}
