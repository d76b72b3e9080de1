; e2e-gimp3.scm — end-to-end checks of the Generative plug-in in GIMP 3.0,
; calling its procedures as a script does (named arguments).  Loaded by
; e2e-gimp3.sh, which defines e2e-model, e2e-vae, e2e-bad-model, e2e-input, e2e-out.
; Every check prints "ok   NAME" or "FAIL NAME: detail"; the last line is
; "e2e: P passed, F failed".

(define e2e-passed 0)
(define e2e-failed 0)

(define (check name ok detail)
  (if ok
      (begin (set! e2e-passed (+ e2e-passed 1))
             (display (string-append "ok   " name)) (newline))
      (begin (set! e2e-failed (+ e2e-failed 1))
             (display (string-append "FAIL " name ": " detail)) (newline))))

(define (num x) (number->string x))

(define (load-image)
  (car (gimp-file-load RUN-NONINTERACTIVE e2e-input)))

(define (first-layer img) (vector-ref (car (gimp-image-get-layers img)) 0))
(define (n-layers img) (vector-length (car (gimp-image-get-layers img))))
(define (width d) (car (gimp-drawable-get-width d)))
(define (height d) (car (gimp-drawable-get-height d)))

; (mean count) of the value histogram of D under the current selection
(define (hist d)
  (let ((h (gimp-drawable-histogram d HISTOGRAM-VALUE 0.0 1.0)))
    (list (car h) (list-ref h 4))))

; the layer |A − B|, made visible alone: B in difference mode over A
(define (difference img a b)
  (gimp-layer-set-mode b LAYER-MODE-DIFFERENCE)
  (let ((d (car (gimp-layer-new-from-visible img img "difference"))))
    (gimp-image-insert-layer img d 0 0)
    d))

; the first N values of the pixel of D at X, Y (0..255)
(define (pixel d x y n)
  (let loop ((v (car (gimp-drawable-get-pixel d x y))) (i 0) (acc '()))
    (if (= i n) (reverse acc) (loop (cdr v) (+ i 1) (cons (car v) acc)))))

; what e2e-inpaint.scm needs (see there)
(define (say text) (display text) (newline))
(define (failed? r) (eq? r 'failed))
(define (e2e-try thunk) (catch 'failed (thunk)))
(define (offsets d) (gimp-drawable-get-offsets d))
(define (select-fully channel x y) (gimp-drawable-set-pixel channel x y '(255 255 255)))
(define (e2e-inpaint img bg model new-layer)
  (catch 'failed
    (plug-in-generative-inpaint #:run-mode RUN-NONINTERACTIVE #:image img
      #:drawables (vector bg) #:model model #:steps 4 #:jump 2 #:resample 2 #:seed 11
      #:context 16 #:new-layer new-layer)))

; what e2e-prompt.scm needs (see there)
(define (e2e-generate img model prompt seed)
  (catch 'failed
    (plug-in-generative-generate #:run-mode RUN-NONINTERACTIVE #:image img #:model model
      #:width 40 #:height 32 #:steps 3 #:seed seed #:prompt prompt)))
(define (e2e-vary img bg model prompt)
  (catch 'failed
    (plug-in-generative-vary #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector bg)
      #:model model #:steps 3 #:strength 0.6 #:seed 3 #:prompt prompt)))
(define (e2e-inpaint-prompt img bg model prompt)
  (catch 'failed
    (plug-in-generative-inpaint #:run-mode RUN-NONINTERACTIVE #:image img
      #:drawables (vector bg) #:model model #:steps 4 #:seed 11 #:context 16
      #:prompt prompt #:negative-prompt "blurry" #:guidance 5.0)))
(define (e2e-denoise img bg model)
  (catch 'failed
    (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
      #:drawables (vector bg) #:model model)))
(define (copy-layer d) (car (gimp-layer-copy d)))
(define (parasite-text layer)
  (let ((data (caddr (car (gimp-item-get-parasite layer "generative-settings")))))
    (if (string? data) data (list->string (map integer->char (vector->list data))))))

(define (save img name)
  (let ((copy (car (gimp-image-duplicate img))))
    (gimp-image-flatten copy)
    (gimp-file-save RUN-NONINTERACTIVE copy (string-append e2e-out "/" name))
    (gimp-image-delete copy)))

; ---- soft selections, outpainting, failing calls (shared with 2.10)
(load (string-append e2e-here "/e2e-inpaint.scm"))

; ---- prompts, on the tiny Stable Diffusion pipeline (shared with 2.10)
(load (string-append e2e-here "/e2e-prompt.scm"))

; ---- the procedures are there
(for-each
  (lambda (job)
    (let ((name (string-append "plug-in-generative-" job)))
      (check (string-append "registered " name)
             (= 1 (car (gimp-pdb-procedure-exists name))) "not in the PDB")))
  '("generate" "denoise" "inpaint" "vary" "vae-reconstruct" "interpolate"))

; ---- denoise, whole layer: a new layer of the layer's size, with the parasite
(let* ((img (load-image)) (bg (first-layer img))
       (layer (car (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
                     #:drawables (vector bg) #:model e2e-model #:noise-level 25.0
                     #:seed 7))))
  (check "denoise adds one layer" (= (n-layers img) 2) (num (n-layers img)))
  (check "denoise layer size" (and (= (width layer) (width bg)) (= (height layer) (height bg)))
         (string-append (num (width layer)) "x" (num (height layer))))
  (check "denoise layer name has the seed"
         (string? (car (gimp-item-get-name layer)))
         (car (gimp-item-get-name layer)))
  (display (string-append "     layer name: " (car (gimp-item-get-name layer)))) (newline)
  (check "denoise parasite"
         (not (null? (car (gimp-item-get-parasite-list layer)))) "no parasite")
  (check "denoise changed pixels"
         (> (car (hist (difference img bg layer))) 0.0) "difference is zero")
  (save img "denoise.png"))

; ---- denoise inside a rectangle: the layer covers the selection's bounds
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 10 8 16 12)
  (let* ((layer (car (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
                       #:drawables (vector bg) #:model e2e-model #:steps 3
                       #:mode "sample" #:scheduler "euler" #:seed 3)))
         (off (gimp-drawable-get-offsets layer)))
    (check "denoise selection size" (and (= (width layer) 16) (= (height layer) 12))
           (string-append (num (width layer)) "x" (num (height layer))))
    (check "denoise selection offsets" (and (= (car off) 10) (= (cadr off) 8))
           (string-append (num (car off)) "," (num (cadr off))))))

; ---- inpaint: changes inside the selection, not one pixel outside
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 12 10 14 10)
  (let* ((layer (car (plug-in-generative-inpaint #:run-mode RUN-NONINTERACTIVE #:image img
                       #:drawables (vector bg) #:model e2e-model #:steps 4 #:jump 2
                       #:resample 2 #:seed 11)))
         (orig (car (gimp-layer-copy bg)))
         (diff (begin (save img "inpaint.png")
                      (gimp-image-insert-layer img orig 0 0)
                      (difference img layer orig)))
         (inside (hist diff))
         (outside (begin (gimp-selection-invert img) (hist diff)))
         (parasite (car (gimp-item-get-parasite layer "generative-settings"))))
    (check "inpaint layer covers the selection"
           (and (= (width layer) 14) (= (height layer) 10)
                (equal? (gimp-drawable-get-offsets layer) '(12 10)))
           (string-append (num (width layer)) "x" (num (height layer))))
    (display "     parasite: ") (write parasite) (newline)
    (check "inpaint parasite names the model"
           (contains? (if (string? (caddr parasite)) (caddr parasite)
                          (list->string (map integer->char (vector->list (caddr parasite)))))
                      (string-append "model=" e2e-model "\n"))
           "no model= line with the model folder")
    (check "inpaint changes the selection" (> (car inside) 0.0)
           (string-append "mean difference inside " (num (car inside))))
    (check "inpaint keeps the rest" (and (= (car outside) 0.0) (> (cadr outside) 0))
           (string-append "mean difference outside " (num (car outside))
                          " over " (num (cadr outside)) " pixels"))))

; ---- inpaint without a selection is our error, and adds nothing
(let* ((img (load-image)) (bg (first-layer img))
       (r (catch 'failed
            (plug-in-generative-inpaint #:run-mode RUN-NONINTERACTIVE #:image img
              #:drawables (vector bg) #:model e2e-model #:steps 2))))
  (check "inpaint without selection fails" (eq? r 'failed) "it succeeded")
  (check "inpaint without selection adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; ---- generate: a layer of the requested size
(let* ((img (load-image))
       (layer (car (plug-in-generative-generate #:run-mode RUN-NONINTERACTIVE #:image img
                     #:model e2e-model #:width 32 #:height 16
                     #:steps 3 #:scheduler "dpmpp_2m" #:sigmas "karras" #:seed 5))))
  (check "generate adds one layer" (= (n-layers img) 2) (num (n-layers img)))
  (check "generate size" (and (= (width layer) 32) (= (height layer) 16))
         (string-append (num (width layer)) "x" (num (height layer))))
  (save img "generate.png"))

; ---- vary, in place: no new layer, pixels change
(let* ((img (load-image)) (bg (first-layer img))
       (orig (car (gimp-layer-copy bg)))
       (layer (car (plug-in-generative-vary #:run-mode RUN-NONINTERACTIVE #:image img
                     #:drawables (vector bg) #:model e2e-model #:steps 3 #:strength 0.4
                     #:new-layer FALSE))))
  (check "vary in place adds no layer" (= (n-layers img) 1) (num (n-layers img)))
  (gimp-image-insert-layer img orig 0 0)
  (check "vary in place changed pixels" (> (car (hist (difference img bg orig))) 0.0)
         "difference is zero"))

; ---- VAE round trip in a selection, with the model folder as the VAE
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 8 8 16 16)
  (let ((layer (car (plug-in-generative-vae-reconstruct #:run-mode RUN-NONINTERACTIVE
                      #:image img #:drawables (vector bg) #:model e2e-vae))))
    (check "vae layer size" (and (= (width layer) 16) (= (height layer) 16))
           (string-append (num (width layer)) "x" (num (height layer))))
    (save img "vae.png")))

; ---- interpolate: two selected layers, one new layer per frame
(let* ((img (load-image)) (bg (first-layer img))
       (top (car (gimp-layer-copy bg))))
  (gimp-image-insert-layer img top 0 0)
  (gimp-drawable-invert top FALSE)
  (let ((layers (car (plug-in-generative-interpolate #:run-mode RUN-NONINTERACTIVE #:image img
                       #:drawables (vector bg top) #:model e2e-model #:steps 3 #:frames 3))))
    (check "interpolate returns the frames" (= (vector-length layers) 3)
           (num (vector-length layers)))
    (check "interpolate adds the frames" (= (n-layers img) 5) (num (n-layers img)))
    (check "interpolate frame size" (= (width (vector-ref layers 0)) (width bg))
           (num (width (vector-ref layers 0))))
    (save img "interpolate.png")))

; ---- interpolate with one layer: our error
(let* ((img (load-image)) (bg (first-layer img))
       (r (catch 'failed
            (plug-in-generative-interpolate #:run-mode RUN-NONINTERACTIVE #:image img
              #:drawables (vector bg) #:model e2e-model))))
  (check "interpolate with one layer fails" (eq? r 'failed) "it succeeded"))

; ---- grayscale 16-bit with alpha
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-convert-grayscale img)
  (gimp-image-convert-precision img PRECISION-U16-NON-LINEAR)
  (gimp-layer-add-alpha bg)
  (let ((layer (car (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
                      #:drawables (vector bg) #:model e2e-model))))
    (check "gray 16-bit denoise" (and (= (width layer) (width bg))
                                      (= 1 (car (gimp-drawable-is-gray layer))))
           "wrong size or not gray")
    (save img "gray16.png")))

; ---- indexed: our message, nothing added
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE FALSE "")
  (let ((r (catch 'failed
             (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
               #:drawables (vector bg) #:model e2e-model))))
    (check "indexed fails" (eq? r 'failed) "it succeeded")
    (check "indexed adds nothing" (= (n-layers img) 1) (num (n-layers img)))))

; ---- a folder that is not a model: an error, the image unchanged
(let* ((img (load-image)) (bg (first-layer img))
       (dirty (car (gimp-image-is-dirty img)))
       (before (gimp-drawable-histogram bg HISTOGRAM-VALUE 0.0 1.0))
       (r (catch 'failed
            (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
              #:drawables (vector bg) #:model e2e-bad-model #:new-layer FALSE))))
  (check "bad model fails" (eq? r 'failed) "it succeeded")
  (check "bad model adds nothing" (= (n-layers img) 1) (num (n-layers img)))
  (check "bad model leaves the pixels" (equal? before (gimp-drawable-histogram bg HISTOGRAM-VALUE 0.0 1.0))
         "the histogram changed")
  (check "bad model leaves the dirty state" (= dirty (car (gimp-image-is-dirty img)))
         (string-append "dirty " (num dirty) " -> " (num (car (gimp-image-is-dirty img))))))

; ---- no model folder and no installed default: an error naming the default's path
(let* ((img (load-image)) (bg (first-layer img))
       (r (catch 'failed
            (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
              #:drawables (vector bg) #:model ""))))
  (check "missing default model fails" (eq? r 'failed) "it succeeded")
  (check "missing default model adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; ---- bad input: 1×1 layers.  Each job either makes a 1×1 result or fails
; with its message; the layer is left as it was either way.
(for-each
  (lambda (job)
    (let* ((img (car (gimp-image-new 1 1 RGB)))
           (px (car (gimp-layer-new img "px" 1 1 RGB-IMAGE 100 LAYER-MODE-NORMAL)))
           (before (begin (gimp-image-insert-layer img px 0 0)
                          (gimp-drawable-fill px FILL-WHITE)
                          (gimp-drawable-histogram px HISTOGRAM-VALUE 0.0 1.0)))
           (r (catch 'failed
                (cond ((string=? job "denoise")
                       (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
                         #:drawables (vector px) #:model e2e-model #:noise-level 25.0))
                      ((string=? job "vary")
                       (plug-in-generative-vary #:run-mode RUN-NONINTERACTIVE #:image img
                         #:drawables (vector px) #:model e2e-model #:steps 2))
                      (else
                       (plug-in-generative-vae-reconstruct #:run-mode RUN-NONINTERACTIVE
                         #:image img #:drawables (vector px) #:model e2e-vae))))))
      (display (string-append "     1x1 " job ": " (if (eq? r 'failed) "refused" "done")))
      (newline)
      (check (string-append "1x1 " job ": a 1x1 layer or nothing")
             (if (eq? r 'failed)
                 (= (n-layers img) 1)
                 (and (= (n-layers img) 2) (= (width (car r)) 1) (= (height (car r)) 1)))
             (num (n-layers img)))
      (check (string-append "1x1 " job " leaves the layer")
             (equal? before (gimp-drawable-histogram px HISTOGRAM-VALUE 0.0 1.0)) "it changed")
      (gimp-image-delete img)))
  '("denoise" "vary" "vae"))

; ---- bad input: a 10000×10000 layer.  Inpaint reads the selection and its
; context only and writes a new layer of the selection's size (or fails
; with its message).  The layer is left as it was.
(let* ((img (car (gimp-image-new 10000 10000 RGB)))
       (big (car (gimp-layer-new img "big" 10000 10000 RGB-IMAGE 100 LAYER-MODE-NORMAL)))
       (before (begin (gimp-image-insert-layer img big 0 0)
                      ; white with a black block: a fill of 100 MP (a dithered
                      ; gradient takes minutes in GIMP 3.0)
                      (gimp-drawable-fill big FILL-WHITE)
                      (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 3000 2000 4000 5000)
                      (gimp-context-set-foreground '(0 0 0))
                      (gimp-drawable-edit-fill big FILL-FOREGROUND)
                      (gimp-selection-none img)
                      (gimp-drawable-histogram big HISTOGRAM-VALUE 0.0 1.0)))
       (sel (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 4990 4990 24 20))
       (r (catch 'failed
            (plug-in-generative-inpaint #:run-mode RUN-NONINTERACTIVE #:image img
              #:drawables (vector big) #:model e2e-model #:steps 2 #:jump 1 #:resample 1))))
  (display (string-append "     10000x10000 inpaint: " (if (eq? r 'failed) "refused" "done")))
  (newline)
  (check "10000x10000 inpaint: a layer over the selection or nothing"
         (if (eq? r 'failed)
             (= (n-layers img) 1)
             (and (= (n-layers img) 2) (= (width (car r)) 24) (= (height (car r)) 20)))
         (num (n-layers img)))
  (gimp-selection-none img)
  (check "10000x10000 inpaint leaves the layer"
         (equal? before (gimp-drawable-histogram big HISTOGRAM-VALUE 0.0 1.0)) "it changed")
  (gimp-image-delete img))

; ---- and after all that, GIMP and the plug-in still work
(let* ((img (load-image)) (bg (first-layer img))
       (r (catch 'failed
            (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
              #:drawables (vector bg) #:model e2e-model #:noise-level 25.0))))
  (check "denoise after the bad input" (not (eq? r 'failed)) "it failed")
  (check "denoise after the bad input adds a layer" (= (n-layers img) 2) (num (n-layers img))))

(display (string-append "e2e: " (num e2e-passed) " passed, " (num e2e-failed) " failed"))
(newline)
