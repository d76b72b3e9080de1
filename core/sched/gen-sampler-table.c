/* gen-sampler-table.c — the samplers and the sigma schedules, one row each.
 * A row holds what a user sees (name, aliases, label, stable number), what
 * the sampler reads (sigmas, eta), the defaults of its diffusers class, and
 * its formulas as function pointers; gen-schedule.c and gen-sampler.c read
 * the row instead of asking which sampler they run.
 *
 * A new sampler: its step (and x0 / add_noise where new) in the formula
 * files, a row here with the next free number, a name in GenSamplerKind.
 * The front ends pick it up from the table. */
#include "gen-sched-private.h"
#include "gen-error.h"

#include <string.h>

/* gettext's marker (po/ reads this file); the front ends translate. */
#define N_(String) (String)

/* The table's order is GenSamplerKind; "number" is the stable ABI number of
 * the GIMP 2.10 procedures (gen-sampler-table.h): DDIM, the default, is 0. */
static const GenSamplerRow sampler_rows[] = {
  [GEN_SAMPLER_DDPM] = {
    .info = { .kind = GEN_SAMPLER_DDPM, .name = "ddpm", .label = N_("DDPM"), .number = 1,
              .order = 1 },
    .diffusers_class = "DDPMScheduler", .training_class = TRUE,
    .default_spacing = SPACING_LEADING, .has_clip_sample = TRUE, .default_clip = TRUE,
    .timesteps = gen_timesteps_ddpm, .unit_init_noise = TRUE,
    .predict_x0 = gen_predict_x0_vp, .step = gen_step_ddpm, .draws_noise = gen_draws_noise_ddpm,
    .add_noise = gen_add_noise_vp,
  },
  [GEN_SAMPLER_DDIM] = {
    .info = { .kind = GEN_SAMPLER_DDIM, .name = "ddim", .label = N_("DDIM"), .number = 0,
              .uses_eta = TRUE, .order = 1 },
    .diffusers_class = "DDIMScheduler",
    .default_spacing = SPACING_LEADING, .has_clip_sample = TRUE, .default_clip = TRUE,
    .default_alpha_to_one = TRUE,
    .timesteps = gen_timesteps_ddpm, .unit_init_noise = TRUE,
    .predict_x0 = gen_predict_x0_vp, .step = gen_step_ddim, .draws_noise = gen_draws_noise_ddim,
    .add_noise = gen_add_noise_vp,
  },
  [GEN_SAMPLER_EULER] = {
    .info = { .kind = GEN_SAMPLER_EULER, .name = "euler", .label = N_("Euler"), .number = 2,
              .uses_sigmas = TRUE, .order = 1 },
    .diffusers_class = "EulerDiscreteScheduler",
    .default_spacing = SPACING_LINSPACE, .has_final_sigmas_type = TRUE, .reads_sigma_keys = TRUE,
    .timesteps = gen_timesteps_euler,
    .scales_input = TRUE, .predict_x0 = gen_predict_x0_ve, .step = gen_step_euler,
    .add_noise = gen_add_noise_ve,
  },
  [GEN_SAMPLER_EULER_A] = {
    .info = { .kind = GEN_SAMPLER_EULER_A, .name = "euler_a",
              .aliases = (const char *const[]) { "euler-a", "euler_ancestral", NULL },
              .label = N_("Euler ancestral"), .number = 3, .uses_sigmas = TRUE, .order = 1 },
    .diffusers_class = "EulerAncestralDiscreteScheduler",
    .default_spacing = SPACING_LINSPACE, .refuses_sample_prediction = TRUE,
    .timesteps = gen_timesteps_euler,
    .scales_input = TRUE, .predict_x0 = gen_predict_x0_ve, .step = gen_step_euler_a,
    .draws_noise = gen_draws_noise_always, .add_noise = gen_add_noise_ve,
  },
  [GEN_SAMPLER_HEUN] = {
    .info = { .kind = GEN_SAMPLER_HEUN, .name = "heun", .label = N_("Heun"), .number = 4,
              .uses_sigmas = TRUE, .order = 2 },
    .diffusers_class = "HeunDiscreteScheduler",
    .default_spacing = SPACING_LINSPACE, .has_clip_sample = TRUE, .default_clip = FALSE,
    .reads_sigma_keys = TRUE, .timesteps = gen_timesteps_euler,
    .scales_input = TRUE, .n_buffers = 2, .predict_x0 = gen_predict_x0_ve,
    .step = gen_step_heun, .add_noise = gen_add_noise_ve,
  },
  [GEN_SAMPLER_DPMPP_2M] = {
    .info = { .kind = GEN_SAMPLER_DPMPP_2M, .name = "dpmpp_2m",
              .aliases = (const char *const[]) { "dpm++2m", "dpm++_2m", "dpmpp-2m", NULL },
              .label = N_("DPM++ 2M"), .number = 5, .uses_sigmas = TRUE, .order = 1 },
    .diffusers_class = "DPMSolverMultistepScheduler",
    .default_spacing = SPACING_LINSPACE, .has_final_sigmas_type = TRUE, .reads_sigma_keys = TRUE,
    .timesteps = gen_timesteps_dpm, .clips_lambda = TRUE, .trained_sigma_range = TRUE,
    .int_timesteps = TRUE, .unit_init_noise = TRUE,
    .n_buffers = 2, .predict_x0 = gen_predict_x0_dpm, .step = gen_step_dpm,
    .check = gen_check_dpm, .add_noise = gen_add_noise_dpm,
  },
  [GEN_SAMPLER_PNDM] = {
    .info = { .kind = GEN_SAMPLER_PNDM, .name = "pndm", .label = N_("PNDM (PLMS)"),
              .number = 6, .order = 1 },
    .diffusers_class = "PNDMScheduler",
    .default_spacing = SPACING_LEADING, .default_alpha_to_one = FALSE,
    .refuses_sample_prediction = TRUE,
    .timesteps = gen_timesteps_pndm, .unit_init_noise = TRUE,
    .n_buffers = 6, .predict_x0 = gen_predict_x0_vp, .step = gen_step_pndm,
    .check = gen_check_pndm, .add_noise = gen_add_noise_vp,
  },
  [GEN_SAMPLER_LCM] = {
    .info = { .kind = GEN_SAMPLER_LCM, .name = "lcm", .label = N_("LCM (few steps)"),
              .number = 7, .order = 1 },
    .diffusers_class = "LCMScheduler",
    .default_spacing = SPACING_LEADING, .has_clip_sample = TRUE, .default_clip = FALSE,
    .default_alpha_to_one = TRUE,
    .timesteps = gen_timesteps_lcm, .unit_init_noise = TRUE,
    .predict_x0 = gen_predict_x0_lcm, .step = gen_step_lcm, .draws_noise = gen_draws_noise_lcm,
    .add_noise = gen_add_noise_vp,
  },
};

/* The table's order is GenSigmaSchedule and the stable number alike. */
static const GenSigmaRow sigma_rows[] = {
  [GEN_SIGMAS_DEFAULT] = {
    .info = { .schedule = GEN_SIGMAS_DEFAULT, .name = "default", .label = N_("Default"),
              .number = 0 },
  },
  [GEN_SIGMAS_KARRAS] = {
    .info = { .schedule = GEN_SIGMAS_KARRAS, .name = "karras", .label = N_("Karras"),
              .number = 1 },
    .sigmas = gen_sigmas_karras, .rounds_int_timesteps = TRUE,
  },
  [GEN_SIGMAS_EXPONENTIAL] = {
    .info = { .schedule = GEN_SIGMAS_EXPONENTIAL, .name = "exponential",
              .label = N_("Exponential"), .number = 2 },
    .sigmas = gen_sigmas_exponential,
  },
};

/* What the lookups need to know of a table: its rows, and where a row keeps
 * its name, its aliases (or -1) and its stable number. */
typedef struct
{
  const char *what;           /* for messages: "sampler" */
  gconstpointer rows;
  gsize       row_size;
  int         n;
  gsize       name, number;
  gssize      aliases;
} Table;

static const Table samplers = {
  "sampler", sampler_rows, sizeof sampler_rows[0], G_N_ELEMENTS (sampler_rows),
  G_STRUCT_OFFSET (GenSamplerRow, info.name), G_STRUCT_OFFSET (GenSamplerRow, info.number),
  G_STRUCT_OFFSET (GenSamplerRow, info.aliases),
};

static const Table sigma_schedules = {
  "sigma schedule", sigma_rows, sizeof sigma_rows[0], G_N_ELEMENTS (sigma_rows),
  G_STRUCT_OFFSET (GenSigmaRow, info.name), G_STRUCT_OFFSET (GenSigmaRow, info.number), -1,
};

/* Row I, or NULL outside. */
static gconstpointer
table_row (const Table *t, int i)
{
  return i >= 0 && i < t->n ? (const char *) t->rows + (gsize) i * t->row_size : NULL;
}

static const char *
table_name (const Table *t, int i)
{
  return G_STRUCT_MEMBER (const char *, table_row (t, i), t->name);
}

static gconstpointer
table_find_number (const Table *t, int number)
{
  for (int i = 0; i < t->n; i++)
    if (G_STRUCT_MEMBER (int, table_row (t, i), t->number) == number)
      return table_row (t, i);
  return NULL;
}

/* The names as "a, b, c" with LAST_SEP before the last. */
static char *
table_names (const Table *t, const char *last_sep)
{
  GString *out = g_string_new (NULL);

  for (int i = 0; i < t->n; i++)
    g_string_append_printf (out, "%s%s", i == 0 ? "" : i == t->n - 1 ? last_sep : ", ",
                            table_name (t, i));
  return g_string_free (out, FALSE);
}

/* The index of the row NAME is the name of (or else an alias of), or -1
 * with an INVALID error listing the names. */
static int
table_find_name (const Table *t, const char *name, GError **error)
{
  char *valid;

  for (int i = 0; name && i < t->n; i++)
    if (strcmp (name, table_name (t, i)) == 0)
      return i;
  for (int i = 0; name && t->aliases >= 0 && i < t->n; i++)
    for (const char *const *alias = G_STRUCT_MEMBER (const char *const *, table_row (t, i),
                                                     t->aliases);
         alias && *alias; alias++)
      if (strcmp (name, *alias) == 0)
        return i;
  valid = table_names (t, ", ");
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "unknown %s '%s' (valid: %s)", t->what,
               name ? name : "(null)", valid);
  g_free (valid);
  return -1;
}

/* A row's address is its public info's. */
G_STATIC_ASSERT (G_STRUCT_OFFSET (GenSamplerRow, info) == 0);
G_STATIC_ASSERT (G_STRUCT_OFFSET (GenSigmaRow, info) == 0);

const GenSamplerRow *
gen_sampler_row (GenSamplerKind kind)
{
  return table_row (&samplers, (int) kind);
}

int
gen_sampler_info_count (void)
{
  return samplers.n;
}

const GenSamplerInfo *
gen_sampler_info (int i)
{
  return table_row (&samplers, i);
}

const GenSamplerInfo *
gen_sampler_info_from_number (int number)
{
  return table_find_number (&samplers, number);
}

char *
gen_sampler_names (const char *last_sep)
{
  return table_names (&samplers, last_sep);
}

gboolean
gen_sampler_kind_from_name (const char *name, GenSamplerKind *out, GError **error)
{
  int i;

  g_return_val_if_fail (out != NULL, FALSE);
  if ((i = table_find_name (&samplers, name, error)) < 0)
    return FALSE;
  *out = (GenSamplerKind) i;
  return TRUE;
}

const char *
gen_sampler_kind_name (GenSamplerKind kind)
{
  const GenSamplerRow *row = gen_sampler_row (kind);

  return row ? row->info.name : "?";
}

const GenSigmaRow *
gen_sigma_row (GenSigmaSchedule schedule)
{
  return table_row (&sigma_schedules, (int) schedule);
}

int
gen_sigma_schedule_info_count (void)
{
  return sigma_schedules.n;
}

const GenSigmaScheduleInfo *
gen_sigma_schedule_info (int i)
{
  return table_row (&sigma_schedules, i);
}

const GenSigmaScheduleInfo *
gen_sigma_schedule_info_from_number (int number)
{
  return table_find_number (&sigma_schedules, number);
}

char *
gen_sigma_schedule_names (const char *last_sep)
{
  return table_names (&sigma_schedules, last_sep);
}

gboolean
gen_sigma_schedule_from_name (const char *name, GenSigmaSchedule *out, GError **error)
{
  int i;

  g_return_val_if_fail (out != NULL, FALSE);
  if ((i = table_find_name (&sigma_schedules, name, error)) < 0)
    return FALSE;
  *out = (GenSigmaSchedule) i;
  return TRUE;
}

const char *
gen_sigma_schedule_name (GenSigmaSchedule schedule)
{
  const GenSigmaRow *row = gen_sigma_row (schedule);

  return row ? row->info.name : "?";
}

gboolean
gen_sched_config_sampler (const GenSchedConfig *cfg, GenSamplerKind *kind, GError **error)
{
  GString *classes;
  char *names;

  g_return_val_if_fail (cfg != NULL && kind != NULL, FALSE);
  if (!cfg->class_name)
    return TRUE;
  for (int i = 0; i < samplers.n; i++)
    if (strcmp (sampler_rows[i].diffusers_class, cfg->class_name) == 0)
      {
        if (!sampler_rows[i].training_class)
          *kind = sampler_rows[i].info.kind;
        return TRUE;
      }
  classes = g_string_new (NULL);
  for (int i = 0; i < samplers.n; i++)
    g_string_append_printf (classes, "%s%s", i ? ", " : "", sampler_rows[i].diffusers_class);
  names = table_names (&samplers, ", ");
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "the model's scheduler %.64s is not implemented (implemented: %s); pick one of "
               "the samplers %s", cfg->class_name, classes->str, names);
  g_string_free (classes, TRUE);
  g_free (names);
  return FALSE;
}

GenSigmaSchedule
gen_sched_config_sigma_schedule (const GenSchedConfig *cfg, GenSamplerKind kind)
{
  const GenSamplerRow *row = gen_sampler_row (kind);

  g_return_val_if_fail (cfg != NULL, GEN_SIGMAS_DEFAULT);
  if (!row || !row->reads_sigma_keys)
    return GEN_SIGMAS_DEFAULT;
  if (cfg->use_karras_sigmas)
    return GEN_SIGMAS_KARRAS;
  if (cfg->use_exponential_sigmas)
    return GEN_SIGMAS_EXPONENTIAL;
  return GEN_SIGMAS_DEFAULT;
}
