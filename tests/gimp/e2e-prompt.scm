;; e2e-prompt.scm — the prompt checks GIMP 2.10 and 3.0 share, on the tiny
;; random Stable Diffusion pipeline of make-model.py.  Loaded by
;; e2e-gimp2.scm and e2e-gimp3.scm after e2e-inpaint.scm and what differs
;; between the two GIMPs:
;;   (e2e-generate IMG MODEL PROMPT SEED)    a 40×32 layer, 3 DDIM steps
;;   (e2e-vary IMG LAYER MODEL PROMPT)        strength 0.6, 3 steps, new layer
;;   (e2e-inpaint-prompt IMG LAYER MODEL PROMPT)  4 steps, seed 11, context 16
;;   (e2e-denoise IMG LAYER MODEL)            one step
;;   (parasite-text LAYER)                    the settings parasite as a string
;;   (copy-layer LAYER)                       a copy, not yet in the image
;; each giving its result, or a failure (failed?); and e2e-sd, the pipeline.
;;
;; A model that takes no text ignores the prompt, as the dialogs say: the
;; built-in kind of model gives the same pixels with and without one, and
;; records none.

(define prompt-a "a red fox in the snow")
(define prompt-b "a lighthouse on a cliff at night")

; the layer name of D
(define (name-of d) (car (gimp-item-get-name d)))

; TRUE when layers A and B (both over the whole image, opaque) hold the
; same pixels: their difference is zero everywhere
(define (same-pixels? img a b)
  (gimp-selection-none img)
  (= 0.0 (car (hist (difference img a b)))))

; generate: the same prompt and seed twice gives the same pixels, another
; prompt other pixels; the layer name and the parasite record the prompt
(let* ((img (load-image))
       (a1 (e2e-generate img e2e-sd prompt-a 5))
       (a2 (e2e-generate img e2e-sd prompt-a 5)))
  (check "sd generate succeeds" (not (or (failed? a1) (failed? a2))) "it failed")
  (if (not (or (failed? a1) (failed? a2)))
      (let ((l1 (car a1)) (l2 (car a2)))
        (say (string-append "     sd layer name: " (name-of l1)))
        (check "sd generate size" (and (= (width l1) 40) (= (height l1) 32))
               (string-append (num (width l1)) "x" (num (height l1))))
        (check "sd layer name has the prompt" (contains? (name-of l1) "a red fox")
               (name-of l1))
        (check "sd parasite has the prompt"
               (and (contains? (parasite-text l1) (string-append "prompt=" prompt-a "\n"))
                    (contains? (parasite-text l1) "guidance=7.5\n")
                    (contains? (parasite-text l1) (string-append "model=" e2e-sd "\n")))
               (parasite-text l1))
        (save img "sd-generate.png")
        (check "sd same prompt and seed, same pixels" (same-pixels? img l1 l2)
               "the two layers differ"))))

(let* ((img (load-image))
       (a (e2e-generate img e2e-sd prompt-a 5))
       (b (e2e-generate img e2e-sd prompt-b 5)))
  (check "sd generate prompt b succeeds" (not (or (failed? a) (failed? b))) "it failed")
  (if (not (or (failed? a) (failed? b)))
      (check "sd another prompt, other pixels" (not (same-pixels? img (car a) (car b)))
             "the two prompts gave the same pixels")))

; vary with a prompt: a new layer over the layer, other pixels
(let* ((img (load-image)) (bg (first-layer img))
       (r (e2e-vary img bg e2e-sd prompt-b)))
  (check "sd vary succeeds" (not (failed? r)) "it failed")
  (if (not (failed? r))
      (begin
        (check "sd vary adds a layer of the layer's size"
               (and (= (n-layers img) 2) (= (width (car r)) 40) (= (height (car r)) 32))
               (num (n-layers img)))
        (check "sd vary changes the pixels" (not (same-pixels? img bg (car r)))
               "the variation is the layer"))))

; inpaint with a prompt: the selection changes, not one pixel outside it.
; Where the core does not inpaint with a text-conditioned model yet, its
; message reaches the caller (e2e-gimp*.sh checks the log) and nothing is
; added.
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 12 8 16 12)
  (let ((r (e2e-inpaint-prompt img bg e2e-sd prompt-a)))
    (say (string-append "     sd inpaint: " (if (failed? r) "refused" "done")))
    (if (failed? r)
        (check "sd inpaint refused adds nothing" (= (n-layers img) 1) (num (n-layers img)))
        (let* ((layer (car r))
               (orig (copy-layer bg))
               (diff (begin (save img "sd-inpaint.png")
                            (gimp-image-insert-layer img orig 0 0)
                            (difference img layer orig)))
               (inside (hist diff))
               (outside (begin (gimp-selection-invert img) (hist diff))))
          (check "sd inpaint layer covers the selection"
                 (and (= (width layer) 16) (= (height layer) 12))
                 (string-append (num (width layer)) "x" (num (height layer))))
          (check "sd inpaint changes the selection" (> (car inside) 0.0)
                 (string-append "mean difference inside " (num (car inside))))
          (check "sd inpaint keeps the rest" (and (= (car outside) 0.0) (> (cadr outside) 0))
                 (string-append "mean difference outside " (num (car outside))
                                " over " (num (cadr outside)) " pixels"))))))

; a text-to-image model cannot denoise: our message, nothing added
(let* ((img (load-image)) (bg (first-layer img))
       (r (e2e-denoise img bg e2e-sd)))
  (check "sd denoise is refused" (failed? r) "it succeeded")
  (check "sd denoise adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; the built-in kind of model (unconditional) ignores a prompt: the same
; pixels as without one, and no prompt in the name or the parasite
(let* ((img (load-image))
       (with (e2e-generate img e2e-model prompt-a 5))
       (without (e2e-generate img e2e-model "" 5)))
  (check "unconditional generate with a prompt succeeds"
         (not (or (failed? with) (failed? without))) "it failed")
  (if (not (or (failed? with) (failed? without)))
      (begin
        (check "unconditional model ignores the prompt"
               (same-pixels? img (car with) (car without)) "the prompt changed the pixels")
        (check "unconditional layer name has no prompt"
               (not (contains? (name-of (car with)) "fox")) (name-of (car with)))
        (check "unconditional parasite has no prompt"
               (not (contains? (parasite-text (car with)) "prompt=")) (parasite-text (car with))))))
